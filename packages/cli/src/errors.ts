import { DriaError } from '@dria/protocol'
import OpenAI from 'openai'
import { EXIT_LINES_FAILED, EXIT_USAGE } from './constants.js'

/** An error that ends the command with one line on stderr and `exitCode`. */
export class CliError extends DriaError {
  readonly exitCode: number

  constructor (code: string, message: string, exitCode: number) {
    super(code, message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/** Bad flags, input files or configuration: exit code 2, nothing was sent. */
export function usageError (code: string, message: string): CliError {
  return new CliError(code, message, EXIT_USAGE)
}

export function isConnectionError (err: unknown): boolean {
  return err instanceof OpenAI.APIConnectionError
}

/** `ECONNREFUSED`, `ENOTFOUND`, `timeout`…: the first code in the error's cause chain, else its innermost message. */
export function networkCode (err: unknown): string {
  if (err instanceof OpenAI.APIConnectionTimeoutError) return 'timeout'
  let innermost = err
  for (let cause: unknown = err, depth = 0; cause !== undefined && cause !== null && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === 'string' && code !== '') return code
    innermost = cause
  }
  return innermost instanceof Error ? innermost.message : String(innermost)
}

export function unreachable (url: string, err: unknown): CliError {
  return new CliError('COORDINATOR_UNREACHABLE', `cannot reach coordinator at ${url}: ${networkCode(err)} — set --url or DRIA_URL`, EXIT_USAGE)
}

/** What the coordinator (or the network to it) answered, as one line that says what to do. */
export function describeApiError (err: unknown, context: { url: string, credential?: 'api-key' | 'admin-token' }): CliError {
  if (isConnectionError(err)) return unreachable(context.url, err)
  if (err instanceof OpenAI.APIError && err.status === 401) {
    const [what, flag, env] = context.credential === 'admin-token' ? ['admin token', '--admin-token', 'DRIA_ADMIN_TOKEN'] : ['API key', '--api-key', 'DRIA_API_KEY']
    return new CliError(String(err.code ?? 'unauthorized'), `the coordinator at ${context.url} refused the ${what} (${String(err.code ?? 401)}) — set ${flag} or ${env}`, EXIT_USAGE)
  }
  if (err instanceof OpenAI.APIError) {
    const code = typeof err.code === 'string' ? err.code : `http_${String(err.status ?? 'error')}`
    return new CliError(code, `${String(err.status ?? '')} ${code}: ${apiMessage(err)}`.trim(), err.status !== undefined && err.status < 500 ? EXIT_USAGE : EXIT_LINES_FAILED)
  }
  if (err instanceof CliError) return err
  return new CliError('FAILED', err instanceof Error ? err.message : String(err), EXIT_LINES_FAILED)
}

/** The error envelope's message, without the SDK's `<status> ` prefix. */
export function apiMessage (err: InstanceType<typeof OpenAI.APIError>): string {
  const message = (err.error as { message?: unknown } | undefined)?.message
  return typeof message === 'string' ? message : err.message
}
