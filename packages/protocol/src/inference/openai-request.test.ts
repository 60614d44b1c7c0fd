import { describe, expect, it } from 'vitest'
import { kindOfEndpoint, mediaOf, parseOpenAIBody } from './openai-request.js'

function codeOf (fn: () => unknown): { code?: string, param?: string } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string, param?: string }
  }
  throw new Error('expected an error')
}

describe('parseOpenAIBody', () => {
  it('maps a chat body to an engine request', () => {
    const parsed = parseOpenAIBody('chat', {
      model: 'm',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi ' }, { type: 'text', text: 'there' }] }],
      max_tokens: 10,
      max_completion_tokens: 20,
      temperature: 0,
      top_p: 0.5,
      seed: 7,
      stop: 'END',
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } }
    })
    expect(parsed).toEqual({
      kind: 'chat',
      request: {
        model: 'm',
        messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }],
        maxTokens: 20,
        temperature: 0,
        topP: 0.5,
        seed: 7,
        stop: ['END'],
        responseFormat: { type: 'json_schema', name: 'x', schema: { type: 'object' } }
      }
    })
  })

  it('leaves unset sampling parameters out', () => {
    expect(parseOpenAIBody('completion', { model: 'm', prompt: 'p' })).toEqual({ kind: 'completion', request: { model: 'm', prompt: 'p' } })
  })

  it('accepts embeddings input as a string or list', () => {
    expect(parseOpenAIBody('embedding', { model: 'e', input: 'a' })).toEqual({ kind: 'embedding', request: { model: 'e', input: ['a'] } })
    expect(parseOpenAIBody('embedding', { model: 'e', input: ['a', 'b'] }).request).toMatchObject({ input: ['a', 'b'] })
  })

  it.each([
    [{ messages: [{ role: 'user', content: 'x' }] }, 'missing_required_parameter', 'body.model'],
    [{ model: 'm' }, 'missing_required_parameter', 'body.messages'],
    [{ model: 'm', messages: [] }, 'invalid_request_body', 'body.messages'],
    [{ model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'invalid_request_body', 'body.messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'invalid_request_body', 'body.messages[0].content[0]'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }, 'streaming_unsupported', 'body.stream'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 3 }, 'invalid_request_body', 'body.temperature'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 1.5 }, 'invalid_request_body', 'body.max_tokens'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], stop: ['a', 'b', 'c', 'd', 'e'] }, 'invalid_request_body', 'body.stop'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 2 }, 'invalid_request_body', 'body.n'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema' } }, 'invalid_request_body', 'body.response_format.json_schema.schema']
  ])('rejects %j with %s at %s', (body, code, param) => {
    expect(codeOf(() => parseOpenAIBody('chat', body))).toMatchObject({ code, param })
  })

  it('rejects a body that is not an object', () => {
    expect(codeOf(() => parseOpenAIBody('chat', [1]))).toMatchObject({ code: 'invalid_request_body', param: 'body' })
    expect(codeOf(() => parseOpenAIBody('completion', { model: 'm', prompt: 3 }))).toMatchObject({ param: 'body.prompt' })
  })
})

describe('kindOfEndpoint', () => {
  it('knows the three batch endpoints and nothing else', () => {
    expect(kindOfEndpoint('/v1/chat/completions')).toBe('chat')
    expect(kindOfEndpoint('/v1/completions')).toBe('completion')
    expect(kindOfEndpoint('/v1/embeddings')).toBe('embedding')
    expect(kindOfEndpoint('/v1/responses')).toBeUndefined()
    expect(kindOfEndpoint('toString')).toBeUndefined()
  })
})

describe('parseOpenAIBody content parts', () => {
  const png = 'iVBORw0KGgo='
  const body = (content: unknown): Record<string, unknown> => ({ model: 'm', messages: [{ role: 'user', content }] })

  it('keeps images and audio beside the text', () => {
    const parsed = parseOpenAIBody('chat', body([
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'auto' } },
      { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }
    ]))
    expect(parsed.kind === 'chat' && parsed.request.messages[0]).toEqual({ role: 'user', content: 'what is this?', images: [png], audio: [{ data: 'UklGRg==', format: 'wav' }] })
    expect(mediaOf(parsed)).toEqual(['vision', 'audio'])
    expect(mediaOf(parseOpenAIBody('chat', body('hi')))).toEqual([])
  })

  it.each([
    [[{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }], 'body.messages[0].content[0].image_url.url'],
    [[{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGk=' } }], 'body.messages[0].content[0].image_url.url'],
    [[{ type: 'image_url', image_url: { url: 'data:image/png;base64,not base64!' } }], 'body.messages[0].content[0].image_url.url'],
    [[{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'ogg' } }], 'body.messages[0].content[0].input_audio.format'],
    [[{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }], 'body.messages[0].content[0].input_audio.data'],
    [[{ type: 'file', file: {} }], 'body.messages[0].content[0]']
  ])('rejects %j at %s', (content, param) => {
    expect(codeOf(() => parseOpenAIBody('chat', body(content)))).toMatchObject({ code: 'invalid_request_body', param })
  })
})
