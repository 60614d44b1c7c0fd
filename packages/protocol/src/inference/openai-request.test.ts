import { describe, expect, it } from 'vitest'
import { kindOfEndpoint, mediaOf, parseOpenAIBody } from './openai-request.js'

function codeOf (fn: () => unknown): { code?: string, param?: string, message?: string } {
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

  it('parses logprobs for chat (boolean + top_logprobs) and completions (an integer)', () => {
    const chat = { model: 'm', messages: [{ role: 'user', content: 'x' }] }
    expect(parseOpenAIBody('chat', { ...chat, logprobs: true, top_logprobs: 3 }).request).toMatchObject({ logprobs: true, topLogprobs: 3 })
    expect(parseOpenAIBody('chat', { ...chat, logprobs: true }).request).toMatchObject({ logprobs: true, topLogprobs: 0 })
    expect(parseOpenAIBody('chat', { ...chat, logprobs: false }).request).not.toHaveProperty('logprobs')
    expect(parseOpenAIBody('completion', { model: 'm', prompt: 'p', logprobs: 2 }).request).toMatchObject({ logprobs: true, topLogprobs: 2 })
  })

  it('accepts a prompt array holding one prompt, and inert or neutral parameters', () => {
    expect(parseOpenAIBody('completion', { model: 'm', prompt: ['Once'] }).request).toEqual({ model: 'm', prompt: 'Once' })
    const inert = { user: 'u-1', store: false, metadata: { a: 'b' }, n: 1, stream: false, frequency_penalty: 0, presence_penalty: 0, logit_bias: {}, tools: null, temperature: null }
    expect(parseOpenAIBody('chat', { model: 'm', messages: [{ role: 'user', content: 'x', name: 'ann' }], ...inert }).request).toEqual({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
    expect(parseOpenAIBody('embedding', { model: 'e', input: 'a', encoding_format: 'base64', user: 'u' }).request).toEqual({ model: 'e', input: ['a'] })
  })

  const msg = [{ role: 'user', content: 'x' }]
  it.each([
    [{ messages: msg }, 'missing_required_parameter', 'model'],
    [{ model: 7, messages: msg }, 'invalid_type', 'model'],
    [{ model: 'm' }, 'missing_required_parameter', 'messages'],
    [{ model: 'm', messages: 'hi' }, 'invalid_type', 'messages'],
    [{ model: 'm', messages: [] }, 'empty_array', 'messages'],
    [{ model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'invalid_value', 'messages[0].role'],
    [{ model: 'm', messages: [{ content: 'x' }] }, 'missing_required_parameter', 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'missing_required_parameter', 'messages[0].content[0].image_url.url'],
    [{ model: 'm', messages: [{ role: 'user', content: [{ type: 'file', file: {} }] }] }, 'unsupported_value', 'messages[0].content[0].type'],
    [{ model: 'm', messages: [{ role: 'user', content: [{ type: 'video', video: {} }] }] }, 'invalid_value', 'messages[0].content[0].type'],
    [{ model: 'm', messages: [{ role: 'user', content: [{ text: 'x' }] }] }, 'missing_required_parameter', 'messages[0].content[0].type'],
    [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'invalid_type', 'messages[0].content'],
    [{ model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c' }] }] }, 'unsupported_parameter', 'messages[0].tool_calls'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x', mood: 'happy' }] }, 'unknown_parameter', 'messages[0].mood'],
    [{ model: 'm', messages: msg, stream: true }, 'unsupported_value', 'stream'],
    [{ model: 'm', messages: msg, temperature: 7 }, 'decimal_above_max_value', 'temperature'],
    [{ model: 'm', messages: msg, temperature: -1 }, 'decimal_below_min_value', 'temperature'],
    [{ model: 'm', messages: msg, temperature: 'hot' }, 'invalid_type', 'temperature'],
    [{ model: 'm', messages: msg, max_tokens: 1.5 }, 'invalid_type', 'max_tokens'],
    [{ model: 'm', messages: msg, max_tokens: 0 }, 'integer_below_min_value', 'max_tokens'],
    [{ model: 'm', messages: msg, stop: ['a', 'b', 'c', 'd', 'e'] }, 'array_above_max_length', 'stop'],
    [{ model: 'm', messages: msg, n: 2 }, 'unsupported_value', 'n'],
    [{ model: 'm', messages: msg, tools: [{ type: 'function', function: { name: 'f' } }] }, 'unsupported_parameter', 'tools'],
    [{ model: 'm', messages: msg, tool_choice: 'auto' }, 'unsupported_parameter', 'tool_choice'],
    [{ model: 'm', messages: msg, logit_bias: { 50256: -100 } }, 'unsupported_parameter', 'logit_bias'],
    [{ model: 'm', messages: msg, presence_penalty: 1 }, 'unsupported_value', 'presence_penalty'],
    [{ model: 'm', messages: msg, top_logprobs: 2 }, 'invalid_value', 'top_logprobs'],
    [{ model: 'm', messages: msg, logprobs: true, top_logprobs: 21 }, 'integer_above_max_value', 'top_logprobs'],
    [{ model: 'm', messages: msg, logprobs: 'yes' }, 'invalid_type', 'logprobs'],
    [{ model: 'm', messages: msg, frobnicate: 1 }, 'unknown_parameter', 'frobnicate'],
    [{ model: 'm', messages: msg, response_format: { type: 'json_schema' } }, 'missing_required_parameter', 'response_format.json_schema'],
    [{ model: 'm', messages: msg, response_format: { type: 'xml' } }, 'invalid_value', 'response_format.type']
  ])('rejects chat %j with %s at %s', (body, code, param) => {
    expect(codeOf(() => parseOpenAIBody('chat', body))).toMatchObject({ code, param })
  })

  it.each([
    [{ model: 'm', prompt: 3 }, 'invalid_type', 'prompt'],
    [{ model: 'm', prompt: ['a', 'b'] }, 'unsupported_value', 'prompt'],
    [{ model: 'm', prompt: [1, 2] }, 'invalid_type', 'prompt'],
    [{ model: 'm', prompt: 'p', logprobs: 6 }, 'integer_above_max_value', 'logprobs'],
    [{ model: 'm', prompt: 'p', echo: true }, 'unsupported_value', 'echo'],
    [{ model: 'm', prompt: 'p', suffix: 'end' }, 'unsupported_parameter', 'suffix'],
    [{ model: 'm', prompt: 'p', messages: [] }, 'unknown_parameter', 'messages']
  ])('rejects completion %j with %s at %s', (body, code, param) => {
    expect(codeOf(() => parseOpenAIBody('completion', body))).toMatchObject({ code, param })
  })

  it.each([
    [{ model: 'e', input: [] }, 'empty_array', 'input'],
    [{ model: 'e', input: [[1, 2]] }, 'invalid_type', 'input'],
    [{ model: 'e', input: 'a', dimensions: 64 }, 'unsupported_parameter', 'dimensions'],
    [{ model: 'e', input: 'a', encoding_format: 'int8' }, 'invalid_value', 'encoding_format']
  ])('rejects embedding %j with %s at %s', (body, code, param) => {
    expect(codeOf(() => parseOpenAIBody('embedding', body))).toMatchObject({ code, param })
  })

  it('words errors as OpenAI does', () => {
    expect(codeOf(() => parseOpenAIBody('chat', { model: 'm', messages: [{ role: 'robot', content: 'x' }] }))).toMatchObject({
      message: "Invalid value: 'robot'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'."
    })
    expect(codeOf(() => parseOpenAIBody('chat', { model: 'm', messages: msg, temperature: 7 }))).toMatchObject({
      message: "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 7 instead."
    })
    expect(codeOf(() => parseOpenAIBody('chat', { model: 'm', messages: msg, temperature: 'hot' }))).toMatchObject({
      message: "Invalid type for 'temperature': expected a decimal, but got a string instead."
    })
  })

  it('rejects a body that is not an object', () => {
    expect(codeOf(() => parseOpenAIBody('chat', [1]))).toMatchObject({ code: 'invalid_type', param: 'body' })
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
    [[{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }], 'invalid_value', 'messages[0].content[0].image_url.url'],
    [[{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGk=' } }], 'invalid_value', 'messages[0].content[0].image_url.url'],
    [[{ type: 'image_url', image_url: { url: 'data:image/png;base64,not base64!' } }], 'invalid_value', 'messages[0].content[0].image_url.url'],
    [[{ type: 'image_url', image_url: { url: 42 } }], 'invalid_type', 'messages[0].content[0].image_url.url'],
    [[{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'ogg' } }], 'invalid_value', 'messages[0].content[0].input_audio.format'],
    [[{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }], 'invalid_value', 'messages[0].content[0].input_audio.data'],
    [[{ type: 'input_audio', input_audio: 'UklGRg==' }], 'invalid_type', 'messages[0].content[0].input_audio'],
    [[{ type: 'text', text: 5 }], 'invalid_type', 'messages[0].content[0].text']
  ])('rejects %j with %s at %s', (content, code, param) => {
    expect(codeOf(() => parseOpenAIBody('chat', body(content)))).toMatchObject({ code, param })
  })
})
