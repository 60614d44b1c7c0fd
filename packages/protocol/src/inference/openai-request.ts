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

const ROLES = new Set<ChatMessage['role']>(['system', 'developer', 'user', 'assistant', 'tool'])

type Body = Record<string, unknown>

function invalid (param: string, message: string, code = 'invalid_request_body'): DriaError {
  return new DriaError(code, message, { param })
}

function isObject (value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optionalNumber (body: Body, key: string, min: number, max: number): number | undefined {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`body.${key}`, `${key} must be a number between ${min} and ${max}`)
  }
  return value
}

function optionalInteger (body: Body, key: string, min: number, max: number): number | undefined {
  const value = optionalNumber(body, key, min, max)
  if (value !== undefined && !Number.isInteger(value)) throw invalid(`body.${key}`, `${key} must be an integer`)
  return value
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,(.*)$/s
const AUDIO_FORMATS = new Set(['wav', 'mp3'])

function base64 (value: unknown, param: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw invalid(param, `${what} must be base64`)
  }
  return value
}

/** An `image_url` part: only data URLs, since nodes do not fetch URLs for a request. */
function imageOf (part: Body, param: string): string {
  const spec = part.image_url
  const url = typeof spec === 'string' ? spec : isObject(spec) ? spec.url : undefined
  if (typeof url !== 'string') throw invalid(param, 'an image_url part needs image_url.url')
  const match = DATA_URL.exec(url)
  if (match === null || !match[1].startsWith('image/')) throw invalid(`${param}.image_url.url`, 'images must be sent as data:image/...;base64 URLs')
  return base64(match[2], `${param}.image_url.url`, 'the image data')
}

function audioOf (part: Body, param: string): AudioClip {
  const spec = part.input_audio
  if (!isObject(spec)) throw invalid(`${param}.input_audio`, 'input_audio must be an object with data and format')
  if (typeof spec.format !== 'string' || !AUDIO_FORMATS.has(spec.format)) throw invalid(`${param}.input_audio.format`, 'input_audio.format must be wav or mp3')
  return { data: base64(spec.data, `${param}.input_audio.data`, 'input_audio.data'), format: spec.format as AudioClip['format'] }
}

/** OpenAI accepts message content as a string or an array of text, image and audio parts. */
function parseMessage (role: ChatMessage['role'], value: unknown, index: number): ChatMessage {
  if (typeof value === 'string') return { role, content: value }
  if (value === null || value === undefined) return { role, content: '' }
  if (!Array.isArray(value)) throw invalid(`body.messages[${index}].content`, 'message content must be a string or an array of content parts')
  const message: ChatMessage = { role, content: '' }
  value.forEach((part, p) => {
    const param = `body.messages[${index}].content[${p}]`
    if (isObject(part) && part.type === 'text' && typeof part.text === 'string') message.content += part.text
    else if (isObject(part) && part.type === 'image_url') (message.images ??= []).push(imageOf(part, param))
    else if (isObject(part) && part.type === 'input_audio') (message.audio ??= []).push(audioOf(part, param))
    else throw invalid(param, 'content parts must be text, image_url or input_audio')
  })
  return message
}

function parseMessages (body: Body): ChatMessage[] {
  const messages = body.messages
  if (messages === undefined) throw invalid('body.messages', 'messages is required', 'missing_required_parameter')
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('body.messages', 'messages must be a non-empty array')
  return messages.map((message, index) => {
    if (!isObject(message)) throw invalid(`body.messages[${index}]`, 'each message must be an object')
    const role = message.role
    if (typeof role !== 'string' || !ROLES.has(role as ChatMessage['role'])) {
      throw invalid(`body.messages[${index}].role`, `role must be one of ${[...ROLES].join(', ')}`)
    }
    return parseMessage(role as ChatMessage['role'], message.content, index)
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
  if (stop === undefined || stop === null) return undefined
  if (typeof stop === 'string') return [stop]
  if (Array.isArray(stop) && stop.length <= 4 && stop.every(s => typeof s === 'string')) return stop
  throw invalid('body.stop', 'stop must be a string or an array of up to 4 strings')
}

function parseResponseFormat (body: Body): ResponseFormat | undefined {
  const format = body.response_format
  if (format === undefined || format === null) return undefined
  if (!isObject(format)) throw invalid('body.response_format', 'response_format must be an object')
  switch (format.type) {
    case 'text': return { type: 'text' }
    case 'json_object': return { type: 'json_object' }
    case 'json_schema': {
      const spec = format.json_schema
      if (!isObject(spec) || !isObject(spec.schema)) {
        throw invalid('body.response_format.json_schema.schema', 'json_schema.schema must be a JSON schema object')
      }
      return { type: 'json_schema', name: typeof spec.name === 'string' ? spec.name : undefined, schema: spec.schema }
    }
    default: throw invalid('body.response_format.type', 'response_format.type must be text, json_object or json_schema')
  }
}

function parseSampling (body: Body): SamplingParams {
  const params: SamplingParams = {}
  // max_completion_tokens supersedes the deprecated max_tokens.
  const maxTokens = optionalInteger(body, 'max_completion_tokens', 1, 1_000_000) ?? optionalInteger(body, 'max_tokens', 1, 1_000_000)
  if (maxTokens !== undefined) params.maxTokens = maxTokens
  const temperature = optionalNumber(body, 'temperature', 0, 2)
  if (temperature !== undefined) params.temperature = temperature
  const topP = optionalNumber(body, 'top_p', 0, 1)
  if (topP !== undefined) params.topP = topP
  const seed = optionalInteger(body, 'seed', -(2 ** 53), 2 ** 53)
  if (seed !== undefined) params.seed = seed
  const stop = parseStop(body)
  if (stop !== undefined) params.stop = stop
  const responseFormat = parseResponseFormat(body)
  if (responseFormat !== undefined) params.responseFormat = responseFormat
  return params
}

function parseModel (body: Body): string {
  const model = body.model
  if (model === undefined) throw invalid('body.model', 'model is required', 'missing_required_parameter')
  // Control characters would break the coordinator's per-model queue keys; no real model name has them.
  if (typeof model !== 'string' || model.length === 0 || model.length > 256 || /[\x00-\x1f]/.test(model)) {
    throw invalid('body.model', 'model must be a non-empty string of printable characters')
  }
  return model
}

function parseEmbeddingInput (body: Body): string[] {
  const input = body.input
  if (input === undefined) throw invalid('body.input', 'input is required', 'missing_required_parameter')
  if (typeof input === 'string') return [input]
  if (Array.isArray(input) && input.length > 0 && input.length <= 2048 && input.every(s => typeof s === 'string')) return input
  throw invalid('body.input', 'input must be a string or an array of 1 to 2048 strings')
}

/**
 * Validates an OpenAI request body for `kind` and maps it to an engine request.
 * Throws a DriaError whose `param` names the offending field.
 */
export function parseOpenAIBody (kind: TaskKindName, body: unknown): InferenceRequest {
  if (!isObject(body)) throw invalid('body', 'body must be a JSON object')
  if (body.stream === true) throw invalid('body.stream', 'streaming is not supported in batches', 'streaming_unsupported')
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid('body.n', 'only n = 1 is supported')
  const model = parseModel(body)
  switch (kind) {
    case 'chat':
      return { kind, request: { model, messages: parseMessages(body), ...parseSampling(body) } }
    case 'completion': {
      const prompt = body.prompt
      if (prompt === undefined) throw invalid('body.prompt', 'prompt is required', 'missing_required_parameter')
      if (typeof prompt !== 'string') throw invalid('body.prompt', 'prompt must be a string')
      return { kind, request: { model, prompt, ...parseSampling(body) } }
    }
    case 'embedding':
      return { kind, request: { model, input: parseEmbeddingInput(body) } }
  }
}
