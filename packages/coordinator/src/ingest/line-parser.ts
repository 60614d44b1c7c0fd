import { DriaError, invalidType, invalidValue, isDriaError, kindOfEndpoint, missingParameter, parseModel, parseOpenAIBody } from '@dria/protocol'
import { MAX_CUSTOM_ID_LENGTH, MAX_JSON_DEPTH } from './constants.js'
import type { LineFormat, TaskSpec } from './types.js'

export interface LineParserInit {
  endpoint: string
  defaultModel?: string
  /** When given, lines asking for a model not in it fail the file with `model_not_found`. */
  servedModels?: readonly string[]
}

/**
 * Validates one request line and normalizes it to a task. Problems with the line itself (not
 * JSON, no custom_id, wrong url, unknown model…) throw a DriaError: they fail the whole file.
 * Problems inside the request body come back as the task's `failure`: that line alone gets a 400.
 */
export interface LineParser {
  parse(text: string, line: number): TaskSpec
  /** The custom id a line claims, as `parse` reads it (lines are read again to confirm duplicates). */
  idOf(text: string): string | undefined
}

type Json = Record<string, unknown>

const CHAT_ENDPOINT = '/v1/chat/completions'

function isObject (value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Lines may mix formats; a line's own fields say which one it is. */
function formatOf (line: Json): LineFormat {
  if (line.method !== undefined || line.url !== undefined) return 'openai'
  if (line.type !== undefined || line.version !== undefined) return 'dria'
  if (line.prompt !== undefined && line.body === undefined) return 'prompt'
  return 'openai'
}

function parseJson (text: string): Json {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new DriaError('invalid_json_line', 'This line is not valid JSON.')
  }
  if (!isObject(value)) throw new DriaError('invalid_json_line', 'This line is not a JSON object.')
  return value
}

function count (text: string, char: string): number {
  let n = 0
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) n++
  return n
}

/**
 * Whether the JSON text nests deeper than `max`. A line with fewer brackets than that cannot,
 * which native searches tell quickly; only the others are scanned character by character.
 */
export function nestsDeeperThan (text: string, max: number): boolean {
  if (count(text, '[') + count(text, '{') <= max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}

/** The line's custom id: `custom_id`, or `id` for prompt-only lines (where it may be a number). */
function customIdOf (line: Json, format: LineFormat): { value: unknown, param: string } {
  if (format !== 'prompt') return { value: line.custom_id, param: 'custom_id' }
  return { value: typeof line.id === 'number' ? String(line.id) : line.id, param: 'id' }
}

function checkCustomId ({ value, param }: { value: unknown, param: string }): string {
  if (value === undefined || value === null) throw missingParameter(param)
  if (typeof value !== 'string') throw invalidType(param, 'a string', value)
  if (value.length === 0 || value.length > MAX_CUSTOM_ID_LENGTH) {
    throw new DriaError('invalid_custom_id', `'${param}' must be a non-empty string of at most ${MAX_CUSTOM_ID_LENGTH} characters.`, { param })
  }
  return value
}

/** A problem the API would report about a body field, named as the batch line names it. */
function inBody (err: DriaError): DriaError {
  return new DriaError(err.code, err.message, { param: err.param === undefined || err.param === 'body' ? 'body' : `body.${err.param}` })
}

/** Creates the parser for one file's lines. */
export function createLineParser (init: LineParserInit): LineParser {
  const { endpoint, defaultModel } = init
  const served = init.servedModels === undefined ? undefined : new Set(init.servedModels)
  const kind = kindOfEndpoint(endpoint)
  if (kind === undefined) {
    throw new DriaError('invalid_endpoint', `Unsupported batch endpoint '${endpoint}'.`, { param: 'endpoint' })
  }

  function requireChatEndpoint (format: LineFormat): void {
    if (endpoint !== CHAT_ENDPOINT) {
      throw new DriaError('invalid_url', `${format === 'dria' ? 'Dria-format' : 'Prompt-only'} lines are chat completions, which does not match this batch's endpoint '${endpoint}'.`)
    }
  }

  function requireDefaultModel (): string {
    if (defaultModel === undefined || defaultModel === '') throw missingParameter('metadata.model')
    return defaultModel
  }

  /** `{custom_id, method: "POST", url, body}` */
  function openaiBody (line: Json): unknown {
    if (line.method === undefined) throw missingParameter('method')
    if (line.method !== 'POST') throw new DriaError('invalid_method', "The method must be 'POST'.", { param: 'method' })
    if (line.url === undefined) throw missingParameter('url')
    if (line.url !== endpoint) {
      throw new DriaError('invalid_url', `The URL provided for this request does not match the batch endpoint '${endpoint}'.`, { param: 'url' })
    }
    if (line.body === undefined) throw missingParameter('body')
    return line.body
  }

  /** `{custom_id, type: "completions", version: "v1", body}`: a chat body whose model may come from the batch. */
  function driaBody (line: Json): unknown {
    requireChatEndpoint('dria')
    if (line.type !== 'completions') throw invalidValue('type', line.type, ['completions'])
    if (line.version !== 'v1') throw invalidValue('version', line.version, ['v1'])
    const body = line.body
    if (body === undefined) throw missingParameter('body')
    if (isObject(body) && body.model === undefined) return { ...body, model: requireDefaultModel() }
    return body
  }

  /** `{prompt, id, attachment?}`: one user message to the batch's model. */
  function promptBody (line: Json): Json {
    requireChatEndpoint('prompt')
    const model = requireDefaultModel()
    if (typeof line.prompt !== 'string') throw invalidType('prompt', 'a string', line.prompt)
    const content = typeof line.attachment === 'string' ? `${line.prompt}\n\n${line.attachment}` : line.prompt
    return { model, messages: [{ role: 'user', content }] }
  }

  /** The model routes the line, so a missing, malformed or unserved one fails the file. */
  function modelOf (body: unknown): string {
    if (!isObject(body)) throw inBody(invalidType('body', 'an object', body))
    let model: string
    try {
      model = parseModel(body)
    } catch (err) {
      throw isDriaError(err) ? inBody(err) : err
    }
    if (served !== undefined && !served.has(model)) {
      throw new DriaError('model_not_found', `The provided model '${model}' is not supported: no node on the network serves it.`, { param: 'body.model' })
    }
    return model
  }

  return {
    parse (text, lineNumber) {
      const line = parseJson(text)
      const format = formatOf(line)
      const customId = checkCustomId(customIdOf(line, format))
      const spec = { line: lineNumber, customId, kind, format }
      let body: unknown
      try {
        body = format === 'openai' ? openaiBody(line) : format === 'dria' ? driaBody(line) : promptBody(line)
      } catch (err) {
        // A prompt-only line's prompt is its request body.
        if (format === 'prompt' && isDriaError(err, 'invalid_type')) return { ...spec, model: defaultModel!, body: '', failure: { code: err.code, message: err.message, param: err.param ?? null } }
        throw err
      }
      const model = modelOf(body)
      if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
        return { ...spec, model, body: '', failure: { code: 'invalid_value', message: `The request is nested more than ${MAX_JSON_DEPTH} levels deep.`, param: null } }
      }
      try {
        parseOpenAIBody(kind, body)
      } catch (err) {
        if (!isDriaError(err)) throw err
        return { ...spec, model, body: '', failure: { code: err.code, message: err.message, param: err.param ?? null } }
      }
      return { ...spec, model, body: JSON.stringify(body) }
    },
    idOf (text) {
      try {
        const line = parseJson(text)
        const { value } = customIdOf(line, formatOf(line))
        return typeof value === 'string' ? value : undefined
      } catch {
        return undefined
      }
    }
  }
}
