import type { ModelInfo } from '@dria/engines'
import type { ChatMessage, GenerationResult, SamplingParams } from '@dria/protocol'
import { DEFAULT_TAG } from './constants.js'

/** A request Ollama would refuse with 400 and this message. */
export class BadRequest extends Error {}

export type Body = Record<string, unknown>

export function taggedName (name: string): string {
  return name.includes(':') ? name : name + DEFAULT_TAG
}

export function untaggedName (name: string): string {
  return name.endsWith(DEFAULT_TAG) ? name.slice(0, -DEFAULT_TAG.length) : name
}

function details (info: ModelInfo): Record<string, unknown> {
  const family = info.architecture ?? ''
  return { parent_model: '', format: 'gguf', family, families: family === '' ? null : [family], parameter_size: '', quantization_level: '' }
}

/** The fields /api/tags and /api/ps share; the digest is bare hex there. */
function modelEntry (info: ModelInfo): Record<string, unknown> {
  const name = taggedName(info.name)
  return { name, model: name, size: info.sizeBytes ?? 0, digest: info.digest.replace(/^sha256:/, ''), details: details(info) }
}

export function tagEntry (info: ModelInfo, modifiedAt: string): Record<string, unknown> {
  return { ...modelEntry(info), modified_at: modifiedAt }
}

/** Every model the engine serves is loaded, in system memory. */
export function psEntry (info: ModelInfo, expiresAt: string): Record<string, unknown> {
  return { ...modelEntry(info), expires_at: expiresAt, size_vram: 0 }
}

/** POST /api/show; `capabilities` is how clients tell embedding and vision models apart. */
export function showEntry (info: ModelInfo, modifiedAt: string, media: readonly string[] = []): Record<string, unknown> {
  const modelInfo: Record<string, unknown> = {}
  if (info.architecture !== undefined) {
    modelInfo['general.architecture'] = info.architecture
    if (info.contextLength !== undefined) modelInfo[`${info.architecture}.context_length`] = info.contextLength
  }
  return {
    license: '',
    modelfile: '',
    parameters: '',
    template: '',
    details: details(info),
    model_info: modelInfo,
    capabilities: info.kind === 'embedding' ? ['embedding'] : ['completion', ...media],
    modified_at: modifiedAt
  }
}

function optionalNumber (options: Body, key: string): number | undefined {
  const value = options[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number') throw new BadRequest(`option "${key}" must be a number`)
  return value
}

/** Ollama's `options` and `format` as engine sampling parameters. */
export function samplingFrom (body: Body): SamplingParams {
  const options = (body.options ?? {}) as Body
  const params: SamplingParams = {}
  const numPredict = optionalNumber(options, 'num_predict')
  // -1 (unbounded) and -2 (fill the context) leave the budget to the engine.
  if (numPredict !== undefined && numPredict > 0) params.maxTokens = numPredict
  const temperature = optionalNumber(options, 'temperature')
  if (temperature !== undefined) params.temperature = temperature
  const topP = optionalNumber(options, 'top_p')
  if (topP !== undefined) params.topP = topP
  const seed = optionalNumber(options, 'seed')
  if (seed !== undefined) params.seed = seed
  if (options.stop !== undefined) {
    if (!Array.isArray(options.stop) || !options.stop.every(s => typeof s === 'string')) throw new BadRequest('option "stop" must be a list of strings')
    params.stop = options.stop
  }
  const format = body.format
  if (format === 'json') params.responseFormat = { type: 'json_object' }
  else if (typeof format === 'object' && format !== null) params.responseFormat = { type: 'json_schema', schema: format as Record<string, unknown> }
  else if (format !== undefined && format !== '') throw new BadRequest(`invalid format: ${JSON.stringify(format)}`)
  return params
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool'])

/** Ollama decodes `images` as base64 bytes and refuses anything else. */
function imagesFrom (message: Body): string[] | undefined {
  const images = message.images
  if (images === undefined || images === null) return undefined
  if (!Array.isArray(images) || !images.every(image => typeof image === 'string' && image.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(image))) {
    throw new BadRequest('illegal base64 data in images')
  }
  return images.length > 0 ? images as string[] : undefined
}

export function messagesFrom (body: Body): ChatMessage[] {
  const messages = body.messages ?? []
  if (!Array.isArray(messages)) throw new BadRequest('messages must be a list')
  return messages.map((message: Body) => {
    if (typeof message?.role !== 'string' || !ROLES.has(message.role)) throw new BadRequest(`invalid role: ${String(message?.role)}`)
    const images = imagesFrom(message)
    return { role: message.role as ChatMessage['role'], content: typeof message.content === 'string' ? message.content : '', ...(images === undefined ? {} : { images }) }
  })
}

/** Ollama's timing and count fields, left out when zero (Go's omitempty), as Ollama does. */
export function metrics (totalNs: number, usage: GenerationResult['usage'] | undefined): Record<string, number> {
  const fields: Record<string, number> = {
    total_duration: totalNs,
    prompt_eval_count: usage?.promptTokens ?? 0,
    eval_count: usage?.completionTokens ?? 0
  }
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== 0))
}

/** Streamed answers arrive piece by piece: split at word boundaries, keeping every character. */
export function streamPieces (text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? []
}
