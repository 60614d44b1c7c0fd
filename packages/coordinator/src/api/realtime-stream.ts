import type { GenerationResult } from '@dria/protocol'
import type { ChatCompletionBody, TextCompletionBody } from '../output/index.js'

/** Streamed text arrives piece by piece: split at word boundaries, keeping every character. */
export function textPieces (text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? []
}

function event (data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`
}

const DONE = 'data: [DONE]\n\n'

/**
 * A verified chat completion as OpenAI's `chat.completion.chunk` events: the role, the text in
 * pieces, the finish reason, then (with `stream_options.include_usage`) a usage chunk with no
 * choices, and `[DONE]`. Everything is known when this is called: nothing unverified is sent.
 */
export function chatCompletionEvents (body: ChatCompletionBody, includeUsage: boolean): string {
  const { id, created, model, system_fingerprint: fingerprint } = body
  const choice = body.choices[0]
  const chunk = (delta: Record<string, string>, finishReason: string | null): Record<string, unknown> => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    ...(fingerprint === undefined ? {} : { system_fingerprint: fingerprint }),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {})
  })
  const events = [event(chunk({ role: 'assistant', content: '' }, null))]
  for (const piece of textPieces(choice.message.content)) events.push(event(chunk({ content: piece }, null)))
  events.push(event(chunk({}, choice.finish_reason)))
  if (includeUsage) {
    events.push(event({ id, object: 'chat.completion.chunk', created, model, ...(fingerprint === undefined ? {} : { system_fingerprint: fingerprint }), choices: [], usage: body.usage }))
  }
  events.push(DONE)
  return events.join('')
}

/** A verified text completion as OpenAI's streamed `text_completion` events. */
export function textCompletionEvents (body: TextCompletionBody, includeUsage: boolean): string {
  const { id, created, model, system_fingerprint: fingerprint } = body
  const choice = body.choices[0]
  const chunk = (text: string, finishReason: GenerationResult['finishReason'] | null): Record<string, unknown> => ({
    id,
    object: 'text_completion',
    created,
    model,
    ...(fingerprint === undefined ? {} : { system_fingerprint: fingerprint }),
    choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {})
  })
  const events = textPieces(choice.text).map(piece => event(chunk(piece, null)))
  events.push(event(chunk('', choice.finish_reason)))
  if (includeUsage) events.push(event({ id, object: 'text_completion', created, model, choices: [], usage: body.usage }))
  events.push(DONE)
  return events.join('')
}
