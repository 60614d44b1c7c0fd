import { DriaError } from '@dria/protocol'

/** Error codes the engines throw on purpose; callers and tests match on these. */
export const EngineErrorCode = {
  /** The call was cancelled by `abort()` or by its own signal. */
  ABORTED: 'ENGINE_ABORTED',
  /** The engine does not have the model (llama.cpp: no such GGUF file; or filtered out). */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** Ollama answered that it does not have the model ("try pulling it first"). */
  MODEL_NOT_SERVED: 'MODEL_NOT_SERVED',
  /** Chat/completion asked of an embedding-only model. */
  MODEL_KIND_MISMATCH: 'MODEL_KIND_MISMATCH',
  /** The prompt (or an embedding input) does not fit the model's context window. */
  CONTEXT_LENGTH_EXCEEDED: 'CONTEXT_LENGTH_EXCEEDED',
  /** A request parameter this engine cannot honour (e.g. Ollama and `logprobs`). */
  UNSUPPORTED_PARAMETER: 'UNSUPPORTED_PARAMETER',
  /** The JSON schema cannot be turned into a grammar. */
  UNSUPPORTED_RESPONSE_FORMAT: 'UNSUPPORTED_RESPONSE_FORMAT',
  /** Ollama kept answering 503 "server busy" after every retry. */
  BUSY: 'ENGINE_BUSY',
  /** `gpu: cuda | vulkan` asked for, and llama.cpp has no such build (or device) here. */
  GPU_UNAVAILABLE: 'GPU_UNAVAILABLE',
  /** Ollama could not be reached. */
  UNAVAILABLE: 'ENGINE_UNAVAILABLE',
  /** Anything else the backend failed with. */
  FAILED: 'ENGINE_ERROR'
} as const

export function modelNotFound (name: string, available: string[]): DriaError {
  return new DriaError(EngineErrorCode.MODEL_NOT_FOUND, `model ${name} is not available (have: ${available.join(', ') || 'none'})`, { param: 'body.model' })
}

export function engineFailed (err: unknown, retryable = true): DriaError {
  return new DriaError(EngineErrorCode.FAILED, err instanceof Error ? err.message : String(err), { retryable, cause: err })
}

export function unsupportedParameter (param: string, message: string): DriaError {
  return new DriaError(EngineErrorCode.UNSUPPORTED_PARAMETER, message, { param, retryable: false })
}
