export interface DriaErrorOptions {
  /** Whether repeating the same operation may succeed. Default false. */
  retryable?: boolean
  /** The request parameter at fault, for the OpenAI error envelope. */
  param?: string
  cause?: unknown
}

/**
 * Base class of every error the project throws on purpose. `code` is stable and is what
 * tests and clients match on; messages are for people and may change.
 */
export class DriaError extends Error {
  readonly code: string
  readonly retryable: boolean
  readonly param?: string

  constructor (code: string, message: string, options: DriaErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.name = 'DriaError'
    this.code = code
    this.retryable = options.retryable ?? false
    this.param = options.param
  }
}

export function isDriaError (err: unknown, code?: string): err is DriaError {
  return err instanceof DriaError && (code === undefined || err.code === code)
}
