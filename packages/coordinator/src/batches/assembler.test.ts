import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '@dria/protocol'
import { createFileService } from '../files/index.js'
import type { FileService } from '../files/index.js'
import { openStore } from '../store/index.js'
import type { BatchRecord, Store, TaskFailure, TaskOutcome, TaskRow } from '../store/index.js'
import { assembleBatch } from './assembler.js'

const BATCH_ID = 'batch_0lx4abc12DEF34gh56ij78'
const REQ = '0lx4abc12DEF34gh56ij78'
const DIGEST = 'sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d'
const FINISHED = 1_700_000_123_456

function batch (id = BATCH_ID): BatchRecord {
  return {
    id,
    object: 'batch',
    endpoint: '/v1/chat/completions',
    errors: null,
    input_file_id: 'file-x',
    completion_window: '24h',
    status: 'finalizing',
    output_file_id: null,
    error_file_id: null,
    created_at: 1_700_000_000,
    in_progress_at: 1_700_000_001,
    expires_at: 1_700_086_400,
    finalizing_at: 1_700_000_200,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: null,
    usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    owner: 'key_a',
    webhookUrl: null,
    models: ['stories260K'],
    maxLines: 100_000
  }
}

function outcome (output: unknown, promptTokens = 5, completionTokens = 3): TaskOutcome {
  return { output: JSON.stringify(output), promptTokens, completionTokens, peer: 'peer-a', modelDigest: DIGEST, signature: 'c2ln', finishedAt: FINISHED }
}

type Spec = (Pick<TaskRow, 'kind' | 'format'> & { state: 'completed', outcome: TaskOutcome } | Pick<TaskRow, 'kind' | 'format'> & { state: 'failed' | 'pending' | 'assigned', failure?: TaskFailure }) & { body?: unknown }

/** Inserts rows and drives each through the real transitions to its state. */
async function insertRows (store: Store, batchId: string, specs: Spec[]): Promise<void> {
  const rows: TaskRow[] = specs.map((spec, index) => ({
    batchId,
    index,
    line: index * 2 + 1,
    customId: `req-${index}`,
    kind: spec.kind,
    model: 'stories260K',
    body: JSON.stringify(spec.body ?? { model: 'stories260K' }),
    format: spec.format,
    state: 'pending',
    attempts: 0
  }))
  await store.tasks.insert(rows)
  for (const [index, spec] of specs.entries()) {
    const row = rows[index]
    if (spec.state === 'pending') continue
    if (spec.state === 'failed' && spec.failure !== undefined && index % 2 === 0) {
      await store.tasks.markFailed(row, spec.failure)
      continue
    }
    if (spec.state === 'completed') await store.tasks.markCompleted(row, spec.outcome)
    if (spec.state === 'failed') await store.tasks.markFailed(row, spec.failure ?? { code: 'x', message: 'x' })
  }
}

const lines = (text: string): unknown[] => text === '' ? [] : text.trimEnd().split('\n').map(l => JSON.parse(l))

describe('assembleBatch', () => {
  let dir: string
  let store: Store
  let files: FileService

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-assembler-'))
    store = await openStore(dir)
    files = createFileService({ store, logger: createLogger('test') })
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('writes successes and failures in input order, in the format each line came in', async () => {
    const text = { text: 'Once upon a time', finish_reason: 'length' }
    await insertRows(store, BATCH_ID, [
      { kind: 'chat', format: 'openai', state: 'completed', outcome: outcome(text) },
      { kind: 'chat', format: 'openai', state: 'failed', failure: { code: 'context_length_exceeded', message: 'too long', status: 400, param: 'messages' } },
      { kind: 'completion', format: 'openai', state: 'completed', outcome: outcome({ text: ' there was', finish_reason: 'stop' }, 2, 2) },
      { kind: 'chat', format: 'openai', state: 'failed', failure: { code: 'node_failure', message: 'no node answered' } },
      { kind: 'embedding', format: 'openai', state: 'completed', outcome: outcome({ embeddings: [[0.5, -0.25]] }, 4, 0) },
      { kind: 'chat', format: 'dria', state: 'completed', outcome: outcome(text) },
      { kind: 'chat', format: 'prompt', state: 'failed', failure: { code: 'batch_expired', message: 'expired' } },
      { kind: 'chat', format: 'dria', state: 'failed', failure: { code: 'engine_error', message: 'boom', status: 500 } },
      // Never settled (cannot happen after finalize, but must still appear exactly once).
      { kind: 'chat', format: 'openai', state: 'pending' }
    ])

    const result = await assembleBatch({ store, files }, batch())
    expect(result).toMatchObject({ outputLines: 4, errorLines: 5 })
    const output = lines(await readFile(result.outputPath, 'utf8'))
    const errors = lines(await readFile(result.errorPath, 'utf8'))

    expect(output).toEqual([
      {
        id: `batch_req_${REQ}-0`,
        custom_id: 'req-0',
        response: {
          status_code: 200,
          request_id: `${REQ}-0`,
          body: {
            id: `chatcmpl-${REQ}-0`,
            object: 'chat.completion',
            created: Math.floor(FINISHED / 1000),
            model: 'stories260K',
            choices: [{ index: 0, message: { role: 'assistant', content: 'Once upon a time', refusal: null }, logprobs: null, finish_reason: 'length' }],
            usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
            system_fingerprint: 'fp_270cba1bd510'
          }
        },
        error: null
      },
      expect.objectContaining({ custom_id: 'req-2', response: expect.objectContaining({ body: expect.objectContaining({ object: 'text_completion', choices: [{ text: ' there was', index: 0, logprobs: null, finish_reason: 'stop' }] }) }) }),
      expect.objectContaining({ custom_id: 'req-4', response: expect.objectContaining({ body: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }], model: 'stories260K', usage: { prompt_tokens: 4, total_tokens: 4 } } }) }),
      { custom_id: 'req-5', model: 'stories260K', result: 'Once upon a time', token_count: 3 }
    ])

    expect(errors).toEqual([
      {
        id: `batch_req_${REQ}-1`,
        custom_id: 'req-1',
        response: { status_code: 400, request_id: `${REQ}-1`, body: { error: { message: 'too long', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } } },
        error: null
      },
      { id: `batch_req_${REQ}-3`, custom_id: 'req-3', response: null, error: { code: 'node_failure', message: 'no node answered' } },
      { custom_id: 'req-6', model: 'stories260K', error: { code: 'batch_expired', message: 'expired' } },
      { custom_id: 'req-7', model: 'stories260K', error: { code: 'engine_error', message: 'boom' } },
      { id: `batch_req_${REQ}-8`, custom_id: 'req-8', response: null, error: { code: 'internal_error', message: 'The request has no result.' } }
    ])
  })

  it('formats logprobs, base64 embeddings and engine error codes as OpenAI does', async () => {
    const logprobs = [
      { token: ' Once', logprob: -0.5, bytes: [32, 79, 110, 99, 101], topLogprobs: [{ token: ' Once', logprob: -0.5, bytes: [32, 79, 110, 99, 101] }, { token: ' The', logprob: -1.25, bytes: [32, 84, 104, 101] }] },
      { token: ' upon', logprob: -0.125, bytes: [32, 117, 112, 111, 110], topLogprobs: [] }
    ]
    await insertRows(store, BATCH_ID, [
      { kind: 'chat', format: 'openai', state: 'completed', outcome: outcome({ text: ' Once upon', finish_reason: 'length', logprobs }), body: { model: 'stories260K', messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 2 } },
      { kind: 'completion', format: 'openai', state: 'completed', outcome: outcome({ text: ' Once upon', finish_reason: 'length', logprobs }), body: { model: 'stories260K', prompt: 'Tell:', logprobs: 2 } },
      { kind: 'embedding', format: 'openai', state: 'completed', outcome: outcome({ embeddings: [[0.5, -0.25, 1]] }, 3, 0), body: { model: 'e', input: 'x', encoding_format: 'base64' } },
      { kind: 'chat', format: 'openai', state: 'failed', failure: { code: 'CONTEXT_LENGTH_EXCEEDED', message: 'too long', status: 400, param: 'messages' } }
    ])
    const result = await assembleBatch({ store, files }, batch())
    const [chat, completion, embedding] = lines(await readFile(result.outputPath, 'utf8')) as Array<{ response: { body: any } }>
    expect(chat.response.body.choices[0].logprobs).toEqual({
      content: [
        { token: ' Once', logprob: -0.5, bytes: [32, 79, 110, 99, 101], top_logprobs: [{ token: ' Once', logprob: -0.5, bytes: [32, 79, 110, 99, 101] }, { token: ' The', logprob: -1.25, bytes: [32, 84, 104, 101] }] },
        { token: ' upon', logprob: -0.125, bytes: [32, 117, 112, 111, 110], top_logprobs: [] }
      ],
      refusal: null
    })
    expect(completion.response.body.choices[0].logprobs).toEqual({
      tokens: [' Once', ' upon'],
      token_logprobs: [-0.5, -0.125],
      top_logprobs: [{ ' Once': -0.5, ' The': -1.25 }, {}],
      text_offset: [5, 10]
    })
    const vector = Buffer.from(embedding.response.body.data[0].embedding as string, 'base64')
    expect([vector.readFloatLE(0), vector.readFloatLE(4), vector.readFloatLE(8)]).toEqual([0.5, -0.25, 1])
    const [failed] = lines(await readFile(result.errorPath, 'utf8')) as Array<{ response: { body: { error: { code: string } } } }>
    expect(failed.response.body.error.code).toBe('context_length_exceeded')
  })

  it('puts every custom_id in exactly one file and writes identical bytes when assembled again', async () => {
    // Large enough to flush the line buffers several times.
    const count = 3000
    const states: Spec[] = Array.from({ length: count }, (_, i) => i % 7 === 3
      ? { kind: 'chat', format: i % 2 === 0 ? 'openai' : 'dria', state: 'failed', failure: { code: 'engine_error', message: `failure ${i}`, status: 500 } }
      : { kind: 'chat', format: i % 2 === 0 ? 'openai' : 'dria', state: 'completed', outcome: outcome({ text: `story ${i} `.repeat(20), finish_reason: 'stop' }, 10, i % 50) })
    await insertRows(store, BATCH_ID, states)
    // Another batch's rows, including one with a prefix-sharing id, must not leak in.
    await insertRows(store, `${BATCH_ID}x`, [{ kind: 'chat', format: 'openai', state: 'completed', outcome: outcome({ text: 'other', finish_reason: 'stop' }) }])

    const first = await assembleBatch({ store, files }, batch())
    const second = await assembleBatch({ store, files }, batch())
    expect(first.outputPath).not.toBe(second.outputPath)

    const [out1, err1, out2, err2] = await Promise.all([first.outputPath, first.errorPath, second.outputPath, second.errorPath].map(async p => await readFile(p)))
    expect(out1.length).toBeGreaterThan(512 * 1024)
    expect(out2.equals(out1)).toBe(true)
    expect(err2.equals(err1)).toBe(true)

    const ids = (text: Buffer): string[] => lines(text.toString('utf8')).map(l => (l as { custom_id: string }).custom_id)
    const okIds = ids(out1)
    const errIds = ids(err1)
    expect(first.outputLines).toBe(okIds.length)
    expect(first.errorLines).toBe(errIds.length)
    expect(okIds).toEqual(states.flatMap((s, i) => s.state === 'completed' ? [`req-${i}`] : []))
    expect(errIds).toEqual(states.flatMap((s, i) => s.state === 'failed' ? [`req-${i}`] : []))
    expect(new Set([...okIds, ...errIds]).size).toBe(count)
  })

  it('writes two empty files for a batch without rows, in the files dir', async () => {
    const result = await assembleBatch({ store, files }, batch())
    expect(result).toMatchObject({ outputLines: 0, errorLines: 0 })
    expect(await readFile(result.outputPath, 'utf8')).toBe('')
    expect(await readFile(result.errorPath, 'utf8')).toBe('')
    expect((await readdir(store.filesDir)).sort()).toEqual([result.outputPath, result.errorPath].map(p => p.slice(store.filesDir.length + 1)).sort())
  })
})
