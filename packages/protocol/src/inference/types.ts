/** Engine-neutral inference requests and results, shared by nodes and the coordinator. */

export type TaskKindName = 'chat' | 'completion' | 'embedding'
export type ModelKindName = 'chat' | 'embedding'

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool'
  content: string
  /** Images the message carries (OpenAI `image_url` parts with data URLs), base64 without the `data:` prefix. */
  images?: string[]
  /** Audio clips the message carries (OpenAI `input_audio` parts), base64. */
  audio?: AudioClip[]
}

export interface AudioClip {
  data: string
  format: 'wav' | 'mp3'
}

/** Input modalities a model may accept besides text, as nodes advertise them. */
export type MediaCapability = 'vision' | 'audio'

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
  /** Return the log probability of each generated token (OpenAI `logprobs`). */
  logprobs?: boolean
  /** With `logprobs`: this many most likely alternatives per position (0 to 20). */
  topLogprobs?: number
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

/** One generated token's log probability (natural log, temperature 1), OpenAI's shape. */
export interface TokenLogprob {
  token: string
  logprob: number
  /** UTF-8 bytes of the token's text. */
  bytes: number[]
  topLogprobs: Array<{ token: string, logprob: number, bytes: number[] }>
}

export interface GenerationResult {
  text: string
  finishReason: FinishReason
  usage: TokenUsage
  /**
   * Every generated token id in order, including the end-of-generation token that ended it:
   * what a verifier scores. Absent when the engine does not expose token ids (Ollama).
   */
  tokens?: number[]
  /**
   * How tokens were chosen: `dria-1` (reproducible from the seed and the logits, see
   * `@dria/engines`), `dria-1-unseeded` (dria-1 with a seed the engine drew because the
   * request had none: not reproducible) or `native` (the engine's own sampler, e.g. Ollama's).
   */
  sampler?: string
  logprobs?: TokenLogprob[]
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
