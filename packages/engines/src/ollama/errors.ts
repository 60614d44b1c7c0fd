import { DriaError } from '@dria/protocol'
import { EngineErrorCode, engineFailed } from '../errors.js'

/** ollama-js throws `ResponseError` (not exported) with the HTTP status for non-2xx answers. */
function statusOf (err: unknown): number | undefined {
  const status = (err as { status_code?: unknown } | null)?.status_code
  return typeof status === 'number' ? status : undefined
}

/** Ollama's queue was full: worth retrying after a pause. */
export function isBusy (err: unknown): boolean {
  return statusOf(err) === 503
}

/** An error from the ollama client as a coded engine error. */
export function fromOllamaError (err: unknown, retries: number): DriaError {
  const status = statusOf(err)
  const message = err instanceof Error ? err.message : String(err)
  if (status === 404 || message.includes('try pulling it first')) {
    return new DriaError(EngineErrorCode.MODEL_NOT_SERVED, message, { param: 'body.model', cause: err })
  }
  if (status === 503) {
    return new DriaError(EngineErrorCode.BUSY, `ollama is still busy after ${retries} retries: ${message}`, { retryable: true, cause: err })
  }
  // fetch() rejects with a TypeError when nothing answers (refused, reset, DNS).
  if (status === undefined && err instanceof TypeError) {
    return new DriaError(EngineErrorCode.UNAVAILABLE, `ollama is unreachable: ${message}`, { retryable: true, cause: err })
  }
  return engineFailed(err, status === undefined || status >= 500)
}
