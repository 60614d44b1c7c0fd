import type { ScoreReport, ScoreRequest } from './scoring/types.js'
import type {
  ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, GenerationResult, MediaCapability, ModelKindName
} from '@dria/protocol'

export interface ModelInfo {
  /** The name clients put in `body.model`. */
  name: string
  /** `sha256:<hex>`: identifies the exact weights, for verification and re-execution. */
  digest: string
  kind: ModelKindName
  /** The GGUF `general.architecture` (`llama`, `bert`…), when the engine knows it. */
  architecture?: string
  contextLength?: number
  sizeBytes?: number
  /** Media the model reads besides text, as the engine reports it (Ollama: `vision`). Default none. */
  media?: MediaCapability[]
}

export interface CallOptions {
  signal?: AbortSignal
}

/** A local inference backend a node runs tasks on. */
export interface InferenceEngine {
  readonly name: 'ollama' | 'llamacpp'
  listModels(): Promise<ModelInfo[]>
  chat(request: ChatRequest, options?: CallOptions): Promise<GenerationResult>
  complete(request: CompletionRequest, options?: CallOptions): Promise<GenerationResult>
  embed(request: EmbeddingRequest, options?: CallOptions): Promise<EmbeddingResult>
  /**
   * Verifies another node's result for the same model: recomputes it (one prefill for
   * generations) and checks the claim. Engines that cannot score (Ollama) leave it out.
   */
  score?(request: ScoreRequest, options?: CallOptions): Promise<ScoreReport>
  /** Cancels every call in flight; each rejects with code `ENGINE_ABORTED`. */
  abort(): void
  close(): Promise<void>
}
