import { isDriaError, jsonTypeName } from '@dria/protocol'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_STATUS, LimitError } from '../errors.js'

export interface OpenAIErrorBody {
  error: { message: string, type: string, param: string | null, code: string | null }
}

function errorType (status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
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
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'invalid_multipart'
}

interface AjvError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  data?: unknown
}

const EXPECTED: Readonly<Record<string, string>> = { string: 'a string', integer: 'an integer', number: 'a decimal', boolean: 'a boolean', object: 'an object', array: 'an array' }

function expectedType (type: unknown): string {
  const types = (Array.isArray(type) ? type : [type]).filter(t => t !== 'null').map(t => EXPECTED[String(t)] ?? String(t))
  return types.join(' or ')
}

/** An ajv validation error in OpenAI's codes and wording. */
export function validationError (first: AjvError | undefined, context: string | undefined): { code: string, message: string, param: string | null } {
  const path = first?.instancePath.slice(1).replace(/\//g, '.') ?? ''
  const at = (name: string): string => path === '' ? name : `${path}.${name}`
  const param = path === '' ? null : path
  const p = first?.params ?? {}
  switch (first?.keyword) {
    case 'required': {
      const name = at(String(p.missingProperty))
      return { code: 'missing_required_parameter', message: `Missing required parameter: '${name}'.`, param: name }
    }
    case 'additionalProperties': {
      const name = at(String(p.additionalProperty))
      return { code: 'unknown_parameter', message: `Unknown parameter: '${name}'.`, param: name }
    }
    case 'type':
      return { code: 'invalid_type', message: `Invalid type for '${path}': expected ${expectedType(p.type)}, but got ${jsonTypeName(first.data)} instead.`, param }
    case 'enum': {
      const supported = (p.allowedValues as unknown[]).map(v => `'${String(v)}'`).join(', ')
      return { code: 'invalid_value', message: `Invalid value: '${String(first.data)}'. Supported values are: ${supported}.`, param }
    }
    case 'maximum':
    case 'minimum': {
      const above = first.keyword === 'maximum'
      const kind = Number.isInteger(first.data) ? 'integer' : 'decimal'
      return {
        code: `${kind}_${above ? 'above_max' : 'below_min'}_value`,
        message: `Invalid '${path}': ${kind} ${above ? 'above maximum' : 'below minimum'} value. Expected a value ${above ? '<=' : '>='} ${String(p.limit)}, but got ${String(first.data)} instead.`,
        param
      }
    }
    case 'maxLength':
    case 'minLength': {
      const above = first.keyword === 'maxLength'
      return {
        code: above ? 'string_above_max_length' : 'string_below_min_length',
        message: `Invalid '${path}': string too ${above ? 'long' : 'short'}. Expected a string with ${above ? 'maximum' : 'minimum'} length ${String(p.limit)}, but got a string with length ${String((first.data as string).length)} instead.`,
        param
      }
    }
    case 'maxProperties':
      return { code: 'object_above_max_properties', message: `Invalid '${path}': too many properties. Expected an object with at most ${String(p.limit)} properties.`, param }
    default:
      return { code: 'invalid_value', message: `Invalid value for '${path === '' ? context ?? 'request' : path}'.`, param }
  }
}

/** The multipart parser's own errors (no boundary, truncated body) are the client's doing. */
function isMalformedMultipart (err: FastifyError): boolean {
  return err.code === undefined && /multipart|boundary|unexpected end of form/i.test(err.message)
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
    const { code, message, param } = validationError(err.validation[0] as AjvError | undefined, err.validationContext)
    void reply.status(400).send(errorBody(400, code, message, param))
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
  if (isMalformedMultipart(err)) {
    void reply.status(400).send(errorBody(400, 'invalid_multipart', `The multipart/form-data body is malformed: ${err.message}.`))
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

/** Errors before routing (a path that is not valid percent-encoding, an overlong parameter). */
export function handleFrameworkError (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.code === 'FST_ERR_BAD_URL' ? 400 : err.statusCode ?? 400
  const code = err.code === 'FST_ERR_BAD_URL' ? 'invalid_path' : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'not_found' : 'invalid_request_error'
  void reply
    .status(code === 'not_found' ? 404 : status)
    .header('x-request-id', request.id)
    .send(errorBody(code === 'not_found' ? 404 : status, code, code === 'invalid_path' ? 'The request path is not valid (bad percent-encoding).' : 'No such resource.'))
}
