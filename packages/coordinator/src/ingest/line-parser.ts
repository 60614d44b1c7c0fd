import { DriaError, kindOfEndpoint, parseOpenAIBody } from '@dria/protocol'
import { MAX_CUSTOM_ID_LENGTH } from './constants.js'
import { createIdSet } from './id-set.js'
import type { LineFormat, TaskSpec } from './types.js'

export interface LineParserInit {
  endpoint: string
  defaultModel?: string
  isModelServed?: (model: string) => boolean
}

/** Validates one request line and normalizes it to a task; throws a DriaError with an OpenAI code. */
export type LineParser = (text: string, line: number) => TaskSpec

type Json = Record<string, unknown>

const CHAT_ENDPOINT = '/v1/chat/completions'

function isObject (value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function missing (param: string): DriaError {
  return new DriaError('missing_required_parameter', `Missing required parameter: '${param}'.`, { param })
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

/**
 * Creates the parser for one file. It remembers the custom ids it has seen, so one parser
 * must see the lines of exactly one file.
 */
export function createLineParser (init: LineParserInit): LineParser {
  const { endpoint, defaultModel, isModelServed } = init
  const kind = kindOfEndpoint(endpoint)
  if (kind === undefined) {
    throw new DriaError('invalid_endpoint', `Unsupported batch endpoint '${endpoint}'.`, { param: 'endpoint' })
  }
  const ids = createIdSet()

  function claimId (value: unknown, param: string): string {
    if (value === undefined || value === null) throw missing(param)
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CUSTOM_ID_LENGTH) {
      throw new DriaError('invalid_custom_id', `'${param}' must be a non-empty string of at most ${MAX_CUSTOM_ID_LENGTH} characters.`, { param })
    }
    if (!ids.add(value)) {
      throw new DriaError('duplicate_custom_id', `The custom_id '${value}' appears on an earlier line.`, { param })
    }
    return value
  }

  function requireChatEndpoint (format: LineFormat): void {
    if (endpoint !== CHAT_ENDPOINT) {
      throw new DriaError('invalid_url', `${format === 'dria' ? 'Dria-format' : 'Prompt-only'} lines are chat completions, but this batch's endpoint is '${endpoint}'.`)
    }
  }

  function requireDefaultModel (): string {
    if (defaultModel === undefined || defaultModel === '') throw missing('metadata.model')
    return defaultModel
  }

  /** `{custom_id, method: "POST", url, body}` */
  function openaiBody (line: Json): unknown {
    if (line.method === undefined) throw missing('method')
    if (line.method !== 'POST') throw new DriaError('invalid_method', 'The method must be POST.', { param: 'method' })
    if (line.url === undefined) throw missing('url')
    if (line.url !== endpoint) {
      throw new DriaError('invalid_url', `The url must match the batch endpoint '${endpoint}'.`, { param: 'url' })
    }
    if (line.body === undefined) throw missing('body')
    return line.body
  }

  /** `{custom_id, type: "completions", version: "v1", body}`: a chat body whose model may come from the batch. */
  function driaBody (line: Json): unknown {
    requireChatEndpoint('dria')
    if (line.type !== 'completions') throw new DriaError('invalid_request_body', "type must be 'completions'.", { param: 'type' })
    if (line.version !== 'v1') throw new DriaError('invalid_request_body', "version must be 'v1'.", { param: 'version' })
    const body = line.body
    if (body === undefined) throw missing('body')
    if (isObject(body) && body.model === undefined) return { ...body, model: requireDefaultModel() }
    return body
  }

  /** `{prompt, id, attachment?}`: one user message to the batch's model. */
  function promptBody (line: Json): Json {
    requireChatEndpoint('prompt')
    if (typeof line.prompt !== 'string') throw new DriaError('invalid_request_body', 'prompt must be a string.', { param: 'prompt' })
    const content = typeof line.attachment === 'string' ? `${line.prompt}\n\n${line.attachment}` : line.prompt
    return { model: requireDefaultModel(), messages: [{ role: 'user', content }] }
  }

  return (text, lineNumber) => {
    const line = parseJson(text)
    const format = formatOf(line)
    // Prompt-only lines number their requests; ids may be JSON numbers there.
    const customId = format === 'prompt'
      ? claimId(typeof line.id === 'number' ? String(line.id) : line.id, 'id')
      : claimId(line.custom_id, 'custom_id')
    const body = format === 'openai' ? openaiBody(line) : format === 'dria' ? driaBody(line) : promptBody(line)
    const { request } = parseOpenAIBody(kind, body)
    if (isModelServed !== undefined && !isModelServed(request.model)) {
      throw new DriaError('model_not_found', `The model '${request.model}' is not served by any node.`, { param: 'body.model' })
    }
    return {
      line: lineNumber,
      customId,
      kind,
      model: request.model,
      body: JSON.stringify(body),
      format
    }
  }
}
