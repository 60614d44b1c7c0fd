import { describe, expect, it } from 'vitest'
import { chatCompletionBody, textCompletionBody } from '../output/index.js'
import { chatCompletionEvents, textCompletionEvents, textPieces } from './realtime-stream.js'

const context = { requestId: 'r1', model: 'stories260K', created: 1_700_000_000, modelDigest: 'sha256:270cba1bd5109f42d03350' }
const result = { text: 'Once upon a  time,\nthere was ', finishReason: 'length' as const, usage: { promptTokens: 4, completionTokens: 7 } }

function parse (events: string): unknown[] {
  expect(events.endsWith('data: [DONE]\n\n')).toBe(true)
  return events.split('\n\n').filter(e => e !== '' && e !== 'data: [DONE]').map(e => {
    expect(e.startsWith('data: ')).toBe(true)
    return JSON.parse(e.slice(6))
  })
}

describe('real-time SSE events', () => {
  it('splits text into pieces that join to the exact text', () => {
    expect(textPieces(result.text).join('')).toBe(result.text)
    expect(textPieces('')).toEqual([])
    expect(textPieces('   ')).toEqual(['   '])
  })

  it('streams a chat completion as chat.completion.chunk events', () => {
    const chunks = parse(chatCompletionEvents(chatCompletionBody(context, result), false)) as any[]
    expect(chunks[0]).toEqual({
      id: 'chatcmpl-r1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'stories260K', system_fingerprint: 'fp_270cba1bd510',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]
    })
    expect(chunks.map(c => c.choices[0].delta.content ?? '').join('')).toBe(result.text)
    expect(chunks.at(-1).choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'length' })
    expect(chunks.every(c => !('usage' in c))).toBe(true)
  })

  it('adds a usage chunk with include_usage', () => {
    const chunks = parse(chatCompletionEvents(chatCompletionBody(context, result), true)) as any[]
    expect(chunks.slice(0, -1).every(c => c.usage === null)).toBe(true)
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 7, total_tokens: 11 } })
  })

  it('streams a text completion', () => {
    const chunks = parse(textCompletionEvents(textCompletionBody(context, result), true)) as any[]
    expect(chunks.every(c => c.object === 'text_completion' && c.id === 'cmpl-r1')).toBe(true)
    expect(chunks.slice(0, -1).map(c => c.choices[0].text).join('')).toBe(result.text)
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length')
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 4, completion_tokens: 7, total_tokens: 11 })
  })
})
