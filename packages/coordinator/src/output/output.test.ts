import type { ChatCompletion, Completion, CreateEmbeddingResponse } from 'openai/resources'
import { assertType, describe, expect, it } from 'vitest'
import type { EmbeddingResult, GenerationResult } from '@dria/protocol'
import { driaErrorLine, driaOutputLine, errorLine, openaiErrorLine, openaiOutputLine, outputLine } from './index.js'
import type { ErrorOutput, SuccessOutput } from './index.js'
import { chatCompletionBody, embeddingListBody, textCompletionBody } from './openai.js'

const generation: GenerationResult = { text: 'Once upon a time', finishReason: 'length', usage: { promptTokens: 12, completionTokens: 5 } }
const embedding: EmbeddingResult = { embeddings: [[0.25, -0.5, 1e-7]], usage: { promptTokens: 3, completionTokens: 0 } }
const context = { customId: 'request-1', requestId: 'task_abc', model: 'stories260K', created: 1_700_000_000, modelDigest: 'sha256:270cba1bd5109f42d03350' }

const chat: SuccessOutput = { ...context, kind: 'chat', result: generation }
const completion: SuccessOutput = { ...context, kind: 'completion', result: generation }
const embed: SuccessOutput = { ...context, kind: 'embedding', result: embedding }

describe('OpenAI output lines', () => {
  it('builds a chat.completion BatchRequestOutput', () => {
    const body = chatCompletionBody(context, generation)
    assertType<ChatCompletion>(body)
    expect(JSON.parse(openaiOutputLine(chat))).toEqual({
      id: 'batch_req_task_abc',
      custom_id: 'request-1',
      response: {
        status_code: 200,
        request_id: 'task_abc',
        body: {
          id: 'chatcmpl-task_abc',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: 'stories260K',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Once upon a time', refusal: null }, logprobs: null, finish_reason: 'length' }],
          usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
          system_fingerprint: 'fp_270cba1bd510'
        }
      },
      error: null
    })
    expect(JSON.parse(openaiOutputLine(chat)).response.body).toEqual(body)
  })

  it('builds text_completion and embedding list bodies', () => {
    const text = textCompletionBody(context, generation)
    assertType<Completion>(text)
    expect(JSON.parse(openaiOutputLine(completion)).response.body).toEqual({
      id: 'cmpl-task_abc',
      object: 'text_completion',
      created: 1_700_000_000,
      model: 'stories260K',
      choices: [{ text: 'Once upon a time', index: 0, logprobs: null, finish_reason: 'length' }],
      usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
      system_fingerprint: 'fp_270cba1bd510'
    })

    const list = embeddingListBody(context, { embeddings: [[1, 2], [3, 4]], usage: { promptTokens: 6, completionTokens: 0 } })
    assertType<CreateEmbeddingResponse>(list)
    expect(list).toEqual({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: [1, 2] }, { object: 'embedding', index: 1, embedding: [3, 4] }],
      model: 'stories260K',
      usage: { prompt_tokens: 6, total_tokens: 6 }
    })
    expect(JSON.parse(openaiOutputLine(embed)).response.body.data[0].embedding).toEqual([0.25, -0.5, 1e-7])
  })

  it('omits system_fingerprint without a model digest', () => {
    const { modelDigest: _digest, ...rest } = context
    expect(chatCompletionBody(rest, generation)).not.toHaveProperty('system_fingerprint')
  })

  it('is deterministic and one line', () => {
    const line = openaiOutputLine({ ...chat, result: { ...generation, text: 'two\nlines' } })
    expect(line).toBe(openaiOutputLine({ ...chat, result: { ...generation, text: 'two\nlines' } }))
    expect(line).not.toContain('\n')
  })

  it('builds request-level and batch-level error lines', () => {
    const request: ErrorOutput = { customId: 'r2', requestId: 'task_x', model: 'm', level: 'request', statusCode: 400, code: 'invalid_request_body', message: 'bad', param: 'body.temperature' }
    const parsed = JSON.parse(openaiErrorLine(request))
    expect(parsed).toEqual({
      id: 'batch_req_task_x',
      custom_id: 'r2',
      response: { status_code: 400, request_id: 'task_x', body: { error: { message: 'bad', type: 'invalid_request_error', param: 'body.temperature', code: 'invalid_request_body' } } },
      error: null
    })

    const server = JSON.parse(openaiErrorLine({ ...request, statusCode: 500, code: 'engine_error', param: undefined }))
    expect(server.response.body.error).toEqual({ message: 'bad', type: 'server_error', param: null, code: 'engine_error' })

    expect(JSON.parse(openaiErrorLine({ customId: 'r3', requestId: 'task_y', model: 'm', level: 'batch', code: 'batch_expired', message: 'expired' }))).toEqual({
      id: 'batch_req_task_y', custom_id: 'r3', response: null, error: { code: 'batch_expired', message: 'expired' }
    })
  })
})

describe('Dria output lines', () => {
  it('builds success lines with text or vector results', () => {
    expect(JSON.parse(driaOutputLine(chat))).toEqual({ custom_id: 'request-1', model: 'stories260K', result: 'Once upon a time', token_count: 5 })
    expect(JSON.parse(driaOutputLine(embed))).toEqual({ custom_id: 'request-1', model: 'stories260K', result: [0.25, -0.5, 1e-7], token_count: 3 })
    const several = driaOutputLine({ ...embed, result: { embeddings: [[1], [2]], usage: { promptTokens: 2, completionTokens: 0 } } })
    expect(JSON.parse(several).result).toEqual([[1], [2]])
  })

  it('builds error lines with a code and message', () => {
    const line = driaErrorLine({ customId: '7', requestId: 't', model: 'm', level: 'batch', code: 'node_failure', message: 'no node answered' })
    expect(JSON.parse(line)).toEqual({ custom_id: '7', model: 'm', error: { code: 'node_failure', message: 'no node answered' } })
  })

  it('answers each line in the format it came in', () => {
    expect(outputLine('openai', chat)).toBe(openaiOutputLine(chat))
    expect(outputLine('dria', chat)).toBe(driaOutputLine(chat))
    expect(outputLine('prompt', chat)).toBe(driaOutputLine(chat))
    const failure: ErrorOutput = { customId: 'c', requestId: 't', model: 'm', level: 'batch', code: 'batch_cancelled', message: 'cancelled' }
    expect(errorLine('openai', failure)).toBe(openaiErrorLine(failure))
    expect(errorLine('prompt', failure)).toBe(driaErrorLine(failure))
  })
})
