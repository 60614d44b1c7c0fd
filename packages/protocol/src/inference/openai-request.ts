import { DriaError } from '../errors.js'
import type { AudioClip, ChatMessage, InferenceRequest, MediaCapability, ResponseFormat, SamplingParams, TaskKindName } from './types.js'

/** OpenAI batch endpoints and the task kind each maps to. */
export const ENDPOINT_KINDS: Readonly<Record<string, TaskKindName>> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completion',
  '/v1/embeddings': 'embedding'
}

export function kindOfEndpoint (url: string): TaskKindName | undefined {
  return Object.hasOwn(ENDPOINT_KINDS, url) ? ENDPOINT_KINDS[url] : undefined
}

const ROLES: readonly string[] = ['system', 'developer', 'user', 'assistant', 'tool']
/** Most alternatives per position OpenAI returns: chat `top_logprobs`, completions `logprobs`. */
const MAX_TOP_LOGPROBS = { chat: 20, completion: 5 } as const

type Body = Record<string, unknown>

/**
 * OpenAI parameters the network does not implement. Sent with a value other than "off" they
 * are refused (a 400 for that request) rather than silently dropped.
 */
const UNSUPPORTED: Readonly<Record<TaskKindName, readonly string[]>> = {
  chat: ['tools', 'tool_choice', 'functions', 'function_call', 'parallel_tool_calls', 'audio', 'modalities', 'prediction', 'reasoning_effort', 'web_search_options', 'verbosity'],
  completion: ['suffix'],
  embedding: ['dimensions']
}

/** Parameters that change nothing about the answer here (end-user ids, storage hints). */
const INERT = ['user', 'store', 'metadata', 'service_tier', 'stream_options']

const SAMPLING = ['max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'n', 'stream', 'frequency_penalty', 'presence_penalty', 'logit_bias', 'logprobs']

const KNOWN: Readonly<Record<TaskKindName, ReadonlySet<string>>> = {
  chat: new Set(['model', 'messages', 'max_completion_tokens', 'response_format', 'top_logprobs', ...SAMPLING, ...INERT, ...UNSUPPORTED.chat]),
  completion: new Set(['model', 'prompt', 'echo', 'best_of', 'response_format', ...SAMPLING, ...INERT, ...UNSUPPORTED.completion]),
  embedding: new Set(['model', 'input', 'encoding_format', 'user', ...UNSUPPORTED.embedding])
}

const MESSAGE_FIELDS = new Set(['role', 'content', 'name', 'tool_call_id', 'refusal'])
const UNSUPPORTED_MESSAGE_FIELDS = new Set(['tool_calls', 'function_call', 'audio'])

function isObject (value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const isSet = (value: unknown): boolean => value !== undefined && value !== null

/** OpenAI's words for a JSON value's type in its error messages ("an integer", "a string"…). */
export function jsonTypeName (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

/** `'a', 'b', and 'c'`, as OpenAI lists supported values. */
function listOf (values: readonly unknown[]): string {
  const quoted = values.map(v => `'${String(v)}'`)
  return quoted.length <= 2 ? quoted.join(' and ') : `${quoted.slice(0, -1).join(', ')}, and ${quoted[quoted.length - 1]}`
}

function preview (value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  return text.length > 64 ? `${text.slice(0, 64)}…` : text
}

function fail (code: string, param: string, message: string): DriaError {
  return new DriaError(code, message, { param })
}

export function missingParameter (param: string): DriaError {
  return fail('missing_required_parameter', param, `Missing required parameter: '${param}'.`)
}

export function invalidType (param: string, expected: string, value: unknown): DriaError {
  return fail('invalid_type', param, `Invalid type for '${param}': expected ${expected}, but got ${jsonTypeName(value)} instead.`)
}

export function invalidValue (param: string, value: unknown, supported: readonly unknown[]): DriaError {
  return fail('invalid_value', param, `Invalid value: '${preview(value)}'. Supported values are: ${listOf(supported)}.`)
}

function unsupportedParameter (param: string): DriaError {
  return fail('unsupported_parameter', param, `Unsupported parameter: '${param}' is not supported by Dria batches.`)
}

function unsupportedValue (param: string, value: unknown, supported: string): DriaError {
  return fail('unsupported_value', param, `Unsupported value: '${param}' does not support ${preview(value)} in Dria batches. Supported values are: ${supported}.`)
}

function outOfRange (param: string, value: number, bound: number, above: boolean, integer: boolean): DriaError {
  const kind = integer ? 'integer' : 'decimal'
  const code = `${kind}_${above ? 'above_max' : 'below_min'}_value`
  return fail(code, param, `Invalid '${param}': ${kind} ${above ? 'above maximum' : 'below minimum'} value. Expected a value ${above ? '<=' : '>='} ${bound}, but got ${value} instead.`)
}

function number (body: Body, key: string, min: number, max: number, integer = false): number | undefined {
  const value = body[key]
  if (!isSet(value)) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw invalidType(key, integer ? 'an integer' : 'a decimal', value)
  }
  if (value < min) throw outOfRange(key, value, min, false, integer)
  if (value > max) throw outOfRange(key, value, max, true, integer)
  return value
}

function boolean (body: Body, key: string): boolean | undefined {
  const value = body[key]
  if (!isSet(value)) return undefined
  if (typeof value !== 'boolean') throw invalidType(key, 'a boolean', value)
  return value
}

/** Unknown fields are typos or features this API lacks: never silently ignored. */
function checkFields (body: Body, kind: TaskKindName): void {
  for (const key of Object.keys(body)) {
    if (!KNOWN[kind].has(key)) throw fail('unknown_parameter', key, `Unrecognized request argument supplied: ${key}`)
  }
  for (const key of UNSUPPORTED[kind]) {
    if (isSet(body[key])) throw unsupportedParameter(key)
  }
}

/** Parameters accepted only at their neutral value: what every engine here does anyway. */
function checkNeutral (body: Body): void {
  if (boolean(body, 'stream') === true) throw unsupportedValue('stream', true, 'false')
  const n = number(body, 'n', 1, 128, true)
  if (n !== undefined && n !== 1) throw unsupportedValue('n', n, '1')
  for (const key of ['frequency_penalty', 'presence_penalty']) {
    const penalty = number(body, key, -2, 2)
    if (penalty !== undefined && penalty !== 0) throw unsupportedValue(key, penalty, '0')
  }
  const bias = body.logit_bias
  if (isSet(bias)) {
    if (!isObject(bias)) throw invalidType('logit_bias', 'an object', bias)
    if (Object.keys(bias).length > 0) throw unsupportedParameter('logit_bias')
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,(.*)$/s
const AUDIO_FORMATS = ['wav', 'mp3']

function base64 (value: unknown, param: string): string {
  if (typeof value !== 'string') throw invalidType(param, 'a base64 string', value)
  if (value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw fail('invalid_value', param, `Invalid value for '${param}': expected base64 data.`)
  }
  return value
}

/** An `image_url` part: only data URLs, since nodes do not fetch URLs for a request. */
function imageOf (part: Body, param: string): string {
  const spec = part.image_url
  const url = typeof spec === 'string' ? spec : isObject(spec) ? spec.url : undefined
  if (url === undefined || url === null) throw missingParameter(`${param}.image_url.url`)
  if (typeof url !== 'string') throw invalidType(`${param}.image_url.url`, 'a string', url)
  const match = DATA_URL.exec(url)
  if (match === null || !match[1].startsWith('image/')) {
    throw fail('invalid_value', `${param}.image_url.url`, `Invalid value for '${param}.image_url.url': images must be sent as data:image/...;base64 URLs (nodes do not fetch URLs).`)
  }
  return base64(match[2], `${param}.image_url.url`)
}

function audioOf (part: Body, param: string): AudioClip {
  const spec = part.input_audio
  if (!isSet(spec)) throw missingParameter(`${param}.input_audio`)
  if (!isObject(spec)) throw invalidType(`${param}.input_audio`, 'an object', spec)
  if (typeof spec.format !== 'string' || !AUDIO_FORMATS.includes(spec.format)) throw invalidValue(`${param}.input_audio.format`, spec.format, AUDIO_FORMATS)
  return { data: base64(spec.data, `${param}.input_audio.data`), format: spec.format as AudioClip['format'] }
}

const PART_TYPES = ['text', 'image_url', 'input_audio']

/** OpenAI accepts message content as a string or an array of text, image and audio parts. */
function parseMessage (role: ChatMessage['role'], value: unknown, param: string): ChatMessage {
  if (typeof value === 'string') return { role, content: value }
  if (value === null || value === undefined) return { role, content: '' }
  if (!Array.isArray(value)) throw invalidType(param, 'a string or an array of content parts', value)
  const message: ChatMessage = { role, content: '' }
  value.forEach((part, p) => {
    const partParam = `${param}[${p}]`
    if (!isObject(part)) throw invalidType(partParam, 'an object', part)
    switch (part.type) {
      case 'text':
        if (typeof part.text !== 'string') throw invalidType(`${partParam}.text`, 'a string', part.text)
        message.content += part.text
        break
      case 'image_url': (message.images ??= []).push(imageOf(part, partParam)); break
      case 'input_audio': (message.audio ??= []).push(audioOf(part, partParam)); break
      default:
        if (typeof part.type !== 'string') throw missingParameter(`${partParam}.type`)
        // OpenAI's file parts (PDFs) are real but not run here; anything else is not a part type.
        if (part.type === 'file') throw unsupportedValue(`${partParam}.type`, part.type, listOf(PART_TYPES))
        throw invalidValue(`${partParam}.type`, part.type, PART_TYPES)
    }
  })
  return message
}

function parseMessages (body: Body): ChatMessage[] {
  const messages = body.messages
  if (messages === undefined || messages === null) throw missingParameter('messages')
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array', messages)
  if (messages.length === 0) {
    throw fail('empty_array', 'messages', "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
  }
  return messages.map((message, index) => {
    const param = `messages[${index}]`
    if (!isObject(message)) throw invalidType(param, 'an object', message)
    for (const key of Object.keys(message)) {
      if (UNSUPPORTED_MESSAGE_FIELDS.has(key) && isSet(message[key])) throw unsupportedParameter(`${param}.${key}`)
      if (!MESSAGE_FIELDS.has(key) && !UNSUPPORTED_MESSAGE_FIELDS.has(key)) throw fail('unknown_parameter', `${param}.${key}`, `Unrecognized request argument supplied: ${param}.${key}`)
    }
    const role = message.role
    if (role === undefined) throw missingParameter(`${param}.role`)
    if (typeof role !== 'string') throw invalidType(`${param}.role`, 'a string', role)
    if (!ROLES.includes(role)) throw invalidValue(`${param}.role`, role, ROLES)
    return parseMessage(role as ChatMessage['role'], message.content, `${param}.content`)
  })
}

/** The media a parsed request carries: what the model serving it must accept. */
export function mediaOf (request: InferenceRequest): MediaCapability[] {
  if (request.kind !== 'chat') return []
  const media = new Set<MediaCapability>()
  for (const message of request.request.messages) {
    if ((message.images?.length ?? 0) > 0) media.add('vision')
    if ((message.audio?.length ?? 0) > 0) media.add('audio')
  }
  return [...media]
}

function parseStop (body: Body): string[] | undefined {
  const stop = body.stop
  if (!isSet(stop)) return undefined
  if (typeof stop === 'string') return [stop]
  if (!Array.isArray(stop) || !stop.every(s => typeof s === 'string')) throw invalidType('stop', 'a string or an array of strings', stop)
  if (stop.length > 4) {
    throw fail('array_above_max_length', 'stop', `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${stop.length} instead.`)
  }
  return stop
}

const FORMAT_TYPES = ['text', 'json_object', 'json_schema']

function parseResponseFormat (body: Body): ResponseFormat | undefined {
  const format = body.response_format
  if (!isSet(format)) return undefined
  if (!isObject(format)) throw invalidType('response_format', 'an object', format)
  switch (format.type) {
    case 'text': return { type: 'text' }
    case 'json_object': return { type: 'json_object' }
    case 'json_schema': {
      const spec = format.json_schema
      if (!isSet(spec)) throw missingParameter('response_format.json_schema')
      if (!isObject(spec)) throw invalidType('response_format.json_schema', 'an object', spec)
      if (!isObject(spec.schema)) {
        if (!isSet(spec.schema)) throw missingParameter('response_format.json_schema.schema')
        throw invalidType('response_format.json_schema.schema', 'an object', spec.schema)
      }
      return { type: 'json_schema', name: typeof spec.name === 'string' ? spec.name : undefined, schema: spec.schema }
    }
    default:
      if (format.type === undefined) throw missingParameter('response_format.type')
      throw invalidValue('response_format.type', format.type, FORMAT_TYPES)
  }
}

/** Chat: `logprobs: true` plus `top_logprobs` 0–20. Completions: `logprobs` 0–5 alternatives. */
function parseLogprobs (body: Body, kind: 'chat' | 'completion'): Pick<SamplingParams, 'logprobs' | 'topLogprobs'> {
  if (kind === 'completion') {
    const top = number(body, 'logprobs', 0, MAX_TOP_LOGPROBS.completion, true)
    return top === undefined ? {} : { logprobs: true, topLogprobs: top }
  }
  const wanted = boolean(body, 'logprobs')
  const top = number(body, 'top_logprobs', 0, MAX_TOP_LOGPROBS.chat, true)
  if (top !== undefined && wanted !== true) {
    throw fail('invalid_value', 'top_logprobs', "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.")
  }
  if (wanted !== true) return {}
  return { logprobs: true, topLogprobs: top ?? 0 }
}

function parseSampling (body: Body, kind: 'chat' | 'completion'): SamplingParams {
  checkNeutral(body)
  const params: SamplingParams = {}
  // max_completion_tokens supersedes the deprecated max_tokens.
  const maxTokens = number(body, 'max_completion_tokens', 1, 1_000_000, true) ?? number(body, 'max_tokens', 1, 1_000_000, true)
  if (maxTokens !== undefined) params.maxTokens = maxTokens
  const temperature = number(body, 'temperature', 0, 2)
  if (temperature !== undefined) params.temperature = temperature
  const topP = number(body, 'top_p', 0, 1)
  if (topP !== undefined) params.topP = topP
  const seed = number(body, 'seed', -(2 ** 53), 2 ** 53, true)
  if (seed !== undefined) params.seed = seed
  const stop = parseStop(body)
  if (stop !== undefined) params.stop = stop
  const responseFormat = parseResponseFormat(body)
  if (responseFormat !== undefined) params.responseFormat = responseFormat
  return { ...params, ...parseLogprobs(body, kind) }
}

/** The request's model: checked on its own because a batch routes each line by it. */
export function parseModel (body: Body): string {
  const model = body.model
  if (model === undefined || model === null) throw missingParameter('model')
  if (typeof model !== 'string') throw invalidType('model', 'a string', model)
  // Control characters would break the coordinator's per-model queue keys; no real model name has them.
  if (model.length === 0 || model.length > 256 || /[\x00-\x1f\x7f]/.test(model)) {
    throw fail('invalid_value', 'model', 'Invalid value for \'model\': expected a model name of 1 to 256 printable characters.')
  }
  return model
}

/** A string, or (OpenAI's batched form) an array holding one string. */
function parsePrompt (body: Body): string {
  const prompt = body.prompt
  if (prompt === undefined || prompt === null) throw missingParameter('prompt')
  if (typeof prompt === 'string') return prompt
  if (!Array.isArray(prompt) || !prompt.every(p => typeof p === 'string')) throw invalidType('prompt', 'a string or an array of strings', prompt)
  if (prompt.length !== 1) {
    throw fail('unsupported_value', 'prompt', `Unsupported value: 'prompt' holds ${prompt.length} prompts; Dria batches take one prompt per request line (a string or an array of one string).`)
  }
  return prompt[0]
}

function parseCompletionExtras (body: Body): void {
  if (boolean(body, 'echo') === true) throw unsupportedValue('echo', true, 'false')
  const bestOf = number(body, 'best_of', 1, 20, true)
  if (bestOf !== undefined && bestOf !== 1) throw unsupportedValue('best_of', bestOf, '1')
}

const ENCODING_FORMATS = ['float', 'base64']

function parseEmbeddingInput (body: Body): string[] {
  const input = body.input
  if (input === undefined || input === null) throw missingParameter('input')
  const format = body.encoding_format
  if (isSet(format) && !ENCODING_FORMATS.includes(format as string)) throw invalidValue('encoding_format', format, ENCODING_FORMATS)
  if (typeof input === 'string') return [input]
  if (!Array.isArray(input) || !input.every(s => typeof s === 'string')) {
    throw invalidType('input', 'a string or an array of strings (token arrays are not supported)', input)
  }
  if (input.length === 0) throw fail('empty_array', 'input', "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.")
  if (input.length > 2048) {
    throw fail('array_above_max_length', 'input', `Invalid 'input': array too long. Expected an array with maximum length 2048, but got an array with length ${input.length} instead.`)
  }
  return input
}

/**
 * Validates an OpenAI request body for `kind` and maps it to an engine request. Throws a
 * DriaError with OpenAI's code and wording whose `param` names the field, relative to the body
 * (`temperature`, `messages[0].role`), as OpenAI's API answers a request.
 */
export function parseOpenAIBody (kind: TaskKindName, body: unknown): InferenceRequest {
  if (!isObject(body)) throw invalidType('body', 'an object', body)
  const model = parseModel(body)
  checkFields(body, kind)
  switch (kind) {
    case 'chat':
      return { kind, request: { model, messages: parseMessages(body), ...parseSampling(body, kind) } }
    case 'completion': {
      const prompt = parsePrompt(body)
      parseCompletionExtras(body)
      return { kind, request: { model, prompt, ...parseSampling(body, kind) } }
    }
    case 'embedding':
      return { kind, request: { model, input: parseEmbeddingInput(body) } }
  }
}
