import { isDriaError } from '@dria/protocol'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_STATUS, LimitError } from '../errors.js'

export interface OpenAIErrorBody {
  error: { message: string, type: string, param: string | null, code: string | null }
}

function errorType (status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

export function errorBody (status: number, code: string | null, message: string, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: errorType(status), param, code } }
}

const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json'
}

/** Maps every error to OpenAI's envelope; coded errors keep their code and status. */
export function handleError (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (isDriaError(err)) {
    const status = ERROR_STATUS[err.code] ?? 400
    if (status === 409) void reply.header('x-should-retry', 'false')
    if (err instanceof LimitError && err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds))
    void reply.status(status).send(errorBody(status, err.code, err.message, err.param ?? null))
    return
  }
  if (err.validation !== undefined) {
    const first = err.validation[0]
    const param = first?.instancePath !== undefined && first.instancePath !== '' ? first.instancePath.slice(1).replace(/\//g, '.') : (first?.params as { missingProperty?: string } | undefined)?.missingProperty ?? null
    const code = first?.keyword === 'required' ? 'missing_required_parameter' : 'invalid_parameter'
    void reply.status(400).send(errorBody(400, code, err.message, param))
    return
  }
  // Multipart's own 413 for a second file part: not a size problem.
  if (err.code === 'FST_FILES_LIMIT') {
    void reply.status(400).send(errorBody(400, 'invalid_request_error', 'Send exactly one file, in the `file` field.', 'file'))
    return
  }
  if (err.code === 'FST_REQ_FILE_TOO_LARGE') {
    void reply.status(413).send(errorBody(413, 'file_too_large', 'The upload exceeds the size limit.'))
    return
  }
  const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
  if (status === 500) {
    request.log.error({ err }, 'request failed')
    void reply.status(500).send(errorBody(500, 'internal_error', 'The server had an error while processing your request.'))
    return
  }
  // Fastify's own request errors (body too large, bad JSON, bad content type) keep their message
  // but get a stable code of ours instead of FST_* internals.
  void reply.status(status).send(errorBody(status, FASTIFY_CODES[err.code] ?? 'invalid_request_error', err.message))
}
