import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, jsonl, sleep, startNetwork } from './harness.js'
import type { TestNetwork } from './harness.js'

/**
 * The official Python `openai` SDK (2.x) as it speaks HTTP, reproduced byte for byte where it
 * matters: its headers, its multipart body (httpx), the empty JSON bodies it sends on DELETE and
 * cancel, and the fields its strict (pydantic) models require in every answer.
 */

const API_KEY = 'sk-python-sdk'

/** The headers every request of the Python SDK carries. */
const SDK_HEADERS = {
  accept: 'application/json',
  'user-agent': 'OpenAI/Python 2.8.1',
  'x-stainless-lang': 'python',
  'x-stainless-package-version': '2.8.1',
  'x-stainless-os': 'Linux',
  'x-stainless-arch': 'x64',
  'x-stainless-runtime': 'CPython',
  'x-stainless-runtime-version': '3.12.3',
  'x-stainless-async': 'false',
  'x-stainless-retry-count': '0',
  'x-stainless-read-timeout': '600',
  authorization: `Bearer ${API_KEY}`
}

type Json = Record<string, any>

/** The required fields (and their types) of the SDK's models, checked as pydantic strict mode does. */
function expectShape (value: Json, shape: Record<string, string>): void {
  for (const [key, type] of Object.entries(shape)) {
    const nullable = type.endsWith('?')
    const base = nullable ? type.slice(0, -1) : type
    const actual = value[key]
    if (nullable && (actual === null || actual === undefined)) continue
    expect(actual, `${key} of ${JSON.stringify(value).slice(0, 200)}`).toBeDefined()
    if (base === 'integer') expect(Number.isInteger(actual), key).toBe(true)
    else if (base === 'array') expect(Array.isArray(actual), key).toBe(true)
    else expect(typeof actual, key).toBe(base)
  }
}

const FILE_OBJECT = { id: 'string', bytes: 'integer', created_at: 'integer', filename: 'string', object: 'string', purpose: 'string', status: 'string', expires_at: 'integer?', status_details: 'string?' }
const BATCH = {
  id: 'string', completion_window: 'string', created_at: 'integer', endpoint: 'string', input_file_id: 'string', object: 'string', status: 'string',
  cancelled_at: 'integer?', cancelling_at: 'integer?', completed_at: 'integer?', error_file_id: 'string?', errors: 'object?', expired_at: 'integer?',
  expires_at: 'integer?', failed_at: 'integer?', finalizing_at: 'integer?', in_progress_at: 'integer?', metadata: 'object?', model: 'string?',
  output_file_id: 'string?', request_counts: 'object', usage: 'object'
}
const USAGE = { input_tokens: 'integer', input_tokens_details: 'object', output_tokens: 'integer', output_tokens_details: 'object', total_tokens: 'integer' }

function expectBatch (batch: Json): void {
  expectShape(batch, BATCH)
  expect(batch.object).toBe('batch')
  expectShape(batch.request_counts, { completed: 'integer', failed: 'integer', total: 'integer' })
  expectShape(batch.usage, USAGE)
  expectShape(batch.usage.input_tokens_details, { cached_tokens: 'integer' })
  expectShape(batch.usage.output_tokens_details, { reasoning_tokens: 'integer' })
}

describe('the Python SDK\'s HTTP', () => {
  let network: TestNetwork | undefined
  let base: string

  beforeAll(async () => {
    network = await startNetwork({ apiKeys: [API_KEY], slots: 2 })
    base = `${network.coordinator.url}/v1`
    for (let i = 0; i < 150; i++) {
      const { data } = await (await fetch(`${base}/models`, { headers: SDK_HEADERS })).json() as { data: unknown[] }
      if (data.length > 0) break
      await sleep(200)
    }
  }, 120_000)

  afterAll(async () => { await network?.stop() })

  async function send (method: string, path: string, init: { json?: unknown, empty?: boolean, body?: Buffer, type?: string } = {}): Promise<{ status: number, body: Json, headers: Headers }> {
    const headers: Record<string, string> = { ...SDK_HEADERS }
    let body: string | Buffer | undefined
    if (init.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(init.json) }
    // httpx with json=None and the SDK's default content type: the header, and no body at all.
    if (init.empty === true) headers['content-type'] = 'application/json'
    if (init.body !== undefined) { headers['content-type'] = init.type!; body = init.body }
    const answer = await fetch(`${base}${path}`, { method, headers, body })
    return { status: answer.status, body: await answer.json() as Json, headers: answer.headers }
  }

  /** httpx's multipart encoding of `files.create(file=open(...), purpose="batch")`. */
  function multipart (content: string, filename: string): { body: Buffer, type: string } {
    const boundary = randomBytes(16).toString('hex')
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.from(content),
      Buffer.from(`\r\n--${boundary}--\r\n`)
    ])
    return { body, type: `multipart/form-data; boundary=${boundary}` }
  }

  it('runs the SDK\'s whole batch flow, every answer valid for its strict models', async () => {
    const lines = [
      ...Array.from({ length: 3 }, (_, i) => ({ custom_id: `ok-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: `Once upon a time ${i}` }], max_tokens: 8 } })),
      { custom_id: 'bad-role', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'robot', content: 'x' }] } }
    ]
    const { body, type } = multipart(jsonl(lines), 'requests.jsonl')
    const file = await send('POST', '/files', { body, type })
    expect(file.status).toBe(200)
    expectShape(file.body, FILE_OBJECT)
    expect(file.headers.get('x-request-id')).toMatch(/^req_/)

    const created = await send('POST', '/batches', { json: { input_file_id: file.body.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'nightly' } } })
    expect(created.status).toBe(200)
    expectBatch(created.body)

    let batch = created.body
    while (!['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) {
      await sleep(100)
      batch = (await send('GET', `/batches/${batch.id as string}`)).body
      expectBatch(batch)
    }
    expect(batch).toMatchObject({ status: 'completed', model: MODEL, request_counts: { total: 4, completed: 3, failed: 1 } })

    const errors = await (await fetch(`${base}/files/${batch.error_file_id as string}/content`, { headers: SDK_HEADERS })).text()
    expect(JSON.parse(errors.trim())).toMatchObject({ custom_id: 'bad-role', response: { status_code: 400, body: { error: { code: 'invalid_value', param: 'messages[0].role' } } } })

    const list = await send('GET', '/batches?limit=20')
    expect(list.body).toMatchObject({ object: 'list', has_more: false })
    list.body.data.forEach(expectBatch)

    // files.delete(): DELETE with content-type application/json and an empty body.
    const deleted = await send('DELETE', `/files/${file.body.id as string}`, { empty: true })
    expect(deleted.status).toBe(200)
    expect(deleted.body).toEqual({ id: file.body.id, object: 'file', deleted: true })
  })

  it('cancels with the SDK\'s empty JSON body', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => ({ custom_id: `c-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'A long story' }], max_tokens: 48 } }))
    const { body, type } = multipart(jsonl(lines), 'cancel.jsonl')
    const file = await send('POST', '/files', { body, type })
    const created = await send('POST', '/batches', { json: { input_file_id: file.body.id, endpoint: '/v1/chat/completions', completion_window: '24h' } })
    const cancelled = await send('POST', `/batches/${created.body.id as string}/cancel`, { empty: true })
    expect(cancelled.status).toBe(200)
    expectBatch(cancelled.body)
    expect(['cancelling', 'cancelled']).toContain(cancelled.body.status)
  })

  it('answers errors in the envelope the SDK turns into its exceptions', async () => {
    const unknown = await send('GET', '/batches/batch_nope')
    expect(unknown.status).toBe(404)
    expectShape(unknown.body.error, { message: 'string', type: 'string', code: 'string' })
    const typo = await send('POST', '/batches', { json: { input_file_id: 'file-x', endpoint: '/v1/chat/completions', completion_window: '24h', metdata: {} } })
    expect(typo).toMatchObject({ status: 400, body: { error: { code: 'unknown_parameter', param: 'metdata' } } })
    const missing = await send('POST', '/batches', { json: { input_file_id: 'file-missing', endpoint: '/v1/chat/completions', completion_window: '24h' } })
    expect(missing.status).toBe(200)
    expectBatch(missing.body)
    expect(missing.body.errors.data[0]).toMatchObject({ code: 'invalid_request', message: 'Cannot find file file-missing.' })
  })
})
