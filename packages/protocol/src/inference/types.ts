/** Engine-neutral inference requests and results, shared by nodes and the coordinator. */

export type TaskKindName = 'chat' | 'completion' | 'embedding'
export type ModelKindName = 'chat' | 'embedding'

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool'
  content: string
}

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema', name?: string, schema: Record<string, unknown> }

export interface SamplingParams {
  /** Upper bound on generated tokens; engines apply their own default when absent. */
  maxTokens?: number
  temperature?: number
  topP?: number
  seed?: number
  stop?: string[]
  responseFormat?: ResponseFormat
}

export interface ChatRequest extends SamplingParams {
  model: string
  messages: ChatMessage[]
}

export interface CompletionRequest extends SamplingParams {
  model: string
  prompt: string
}

export interface EmbeddingRequest {
  model: string
  input: string[]
}

export type FinishReason = 'stop' | 'length'

export interface TokenUsage {
  promptTokens: number
  completionTokens: number
}

export interface GenerationResult {
  text: string
  finishReason: FinishReason
  usage: TokenUsage
}

export interface EmbeddingResult {
  embeddings: number[][]
  usage: TokenUsage
}

export type InferenceRequest =
  | { kind: 'chat', request: ChatRequest }
  | { kind: 'completion', request: CompletionRequest }
  | { kind: 'embedding', request: EmbeddingRequest }

export type InferenceResult =
  | { kind: 'chat' | 'completion', result: GenerationResult }
  | { kind: 'embedding', result: EmbeddingResult }
