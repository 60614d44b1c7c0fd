import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type OpenAI from 'openai'
import type { Batch } from 'openai/resources/batches'
import { LONG_MODEL, MODEL, createBatch, errorCode, openaiClient, readJsonl, requestLines, startNetwork, startWebhookReceiver, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork, WebhookReceiver } from './harness.js'

const API_KEY = 'sk-e2e-lifecycle'
// Long enough to validate that a cancel sent right after create arrives while it validates.
const VALIDATING_LINES = 20_000

const chat = (max_tokens: number) => (i: number) => ({ messages: [{ role: 'user', content: `Once upon a time, number ${i}` }], max_tokens })

describe('batch lifecycle: progress, cancel, webhooks, listings', () => {
  let network: TestNetwork | undefined
  let webhooks: WebhookReceiver | undefined
  let openai: OpenAI
  let completed: Batch
  let cancelled: Batch

  beforeAll(async () => {
    webhooks = await startWebhookReceiver()
    network = await startNetwork({ apiKeys: [API_KEY], slots: 1, models: [MODEL, LONG_MODEL], coordinatorArgs: ['--allow-http-webhooks'] })
    openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForNodes(openai, 1)
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
    await webhooks?.close()
  })

  it('reports rising request_counts while running and usage equal to the output lines\' sum', async () => {
    const lines = requestLines(60, '/v1/chat/completions', chat(32))
    const created = await createBatch(openai, lines, { extra: { webhook_url: webhooks!.url } })
    const seen = new Set<number>()
    completed = await waitForBatch(openai, created.id, { intervalMs: 50, onPoll: b => seen.add(b.request_counts!.completed) })
    expect(completed.status).toBe('completed')
    expect(completed.request_counts).toEqual({ total: 60, completed: 60, failed: 0 })
    expect([...seen].some(n => n > 0 && n < 60)).toBe(true)

    const output = await readJsonl(openai, completed.output_file_id)
    expect(output).toHaveLength(60)
    const sum = (field: string): number => output.reduce((total, line) => total + (line.response.body.usage[field] as number), 0)
    expect(completed.usage).toMatchObject({ input_tokens: sum('prompt_tokens'), output_tokens: sum('completion_tokens'), total_tokens: sum('total_tokens') })
    expect(completed.usage!.output_tokens).toBeGreaterThan(0)
  })

  it('delivers batch.completed to the webhook, retrying after a 500', async () => {
    const event = await webhooks!.delivered('batch.completed', completed.id)
    expect(event.body).toMatchObject({ object: 'event', type: 'batch.completed' })
    expect(event.body.data).toMatchObject({ id: completed.id, status: 'completed', output_file_id: completed.output_file_id })
    expect(event.headers['webhook-id']).toBe(event.body.id)
    const attempts = webhooks!.attempts.filter(a => a.body.id === event.body.id)
    expect(attempts.map(a => a.answered)).toEqual([500, 200])
    // Signed as Standard Webhooks specifies, with the key's own secret.
    const { secret } = await (await fetch(`${network!.coordinator.url}/api/v0/webhooks/secret`, { headers: { authorization: `Bearer ${API_KEY}` } })).json() as { secret: string }
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const timestamp = Number(event.headers['webhook-timestamp'])
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(120)
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
    const expected = createHmac('sha256', key).update(`${event.body.id}.${timestamp}.${event.raw}`).digest('base64')
    expect(event.headers['webhook-signature']).toBe(`v1,${expected}`)
  })

  it('cancels a running batch: cancelling, then cancelled, unfinished lines batch_cancelled', async () => {
    // LONG_MODEL runs every line to its 64 tokens: the batch is still running when the cancel comes.
    const lines = requestLines(400, '/v1/chat/completions', i => ({ ...chat(64)(i), model: LONG_MODEL }), 'cancel')
    const created = await createBatch(openai, lines, { extra: { webhook_url: webhooks!.url } })
    const running = await waitForBatch(openai, created.id, { until: b => b.request_counts!.completed >= 5 })
    // Listings show the live counts too.
    const listed = (await openai.batches.list()).data.find(b => b.id === created.id)!
    expect(listed.request_counts!.completed).toBeGreaterThanOrEqual(running.request_counts!.completed)

    const cancelling = await openai.batches.cancel(created.id)
    expect(cancelling.status).toBe('cancelling')
    expect(cancelling.cancelling_at).toBeGreaterThanOrEqual(cancelling.created_at)
    expect(cancelling.cancelled_at).toBeNull()
    // Idempotent: a second cancel answers 200 with the batch.
    const again = await openai.batches.cancel(created.id)
    expect(again.id).toBe(created.id)
    expect(['cancelling', 'cancelled']).toContain(again.status)

    cancelled = await waitForBatch(openai, created.id)
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.cancelled_at).toBeGreaterThanOrEqual(cancelled.cancelling_at!)
    const output = await readJsonl(openai, cancelled.output_file_id)
    const errors = await readJsonl(openai, cancelled.error_file_id)
    expect(output.length).toBeGreaterThanOrEqual(5)
    expect(errors.length).toBeGreaterThan(0)
    for (const line of errors) {
      expect(line.response).toBeNull()
      expect(line.error.code).toBe('batch_cancelled')
    }
    const ids = [...output, ...errors].map(line => line.custom_id as string)
    expect(ids).toHaveLength(400)
    expect(new Set(ids).size).toBe(400)
    expect(cancelled.request_counts).toEqual({ total: 400, completed: output.length, failed: errors.length })

    expect((await openai.batches.cancel(created.id)).status).toBe('cancelled')
    const event = await webhooks!.delivered('batch.cancelled', created.id)
    expect(event.body.data).toMatchObject({ id: created.id, status: 'cancelled', error_file_id: cancelled.error_file_id })
  })

  it('refuses to cancel a completed batch (409, no retry) and answers unknown ids with 404', async () => {
    const cancel = async (id: string): Promise<Response> => await fetch(`${network!.coordinator.url}/v1/batches/${id}/cancel`, {
      method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }
    })
    const refused = await cancel(completed.id)
    expect(refused.status).toBe(409)
    expect(refused.headers.get('x-should-retry')).toBe('false')
    expect(await errorCode(refused)).toBe('batch_wrong_status')
    expect((await openai.batches.retrieve(completed.id)).status).toBe('completed')

    const unknown = await cancel('batch_unknown')
    expect(unknown.status).toBe(404)
    expect(await errorCode(unknown)).toBe('batch_not_found')
  })

  it('lists batches newest first, paging with has_more and after', async () => {
    const third = await createBatch(openai, requestLines(2, '/v1/chat/completions', chat(8), 'list'))
    const all = await openai.batches.list({ limit: 100 })
    expect(all.data.map(b => b.id)).toEqual([third.id, cancelled.id, completed.id])
    expect(all.has_more).toBe(false)

    const paged: string[] = []
    let after: string | undefined
    for (let i = 0; i < 3; i++) {
      const page = await openai.batches.list({ limit: 1, after })
      expect(page.data).toHaveLength(1)
      expect(page.has_more).toBe(i < 2)
      paged.push(page.data[0].id)
      after = page.data[0].id
    }
    expect(paged).toEqual([third.id, cancelled.id, completed.id])
    expect((await openai.batches.list({ limit: 1, after })).data).toEqual([])
    await waitForBatch(openai, third.id)
  })

  it('lists output and error files under purpose=batch_output', async () => {
    const outputs = await openai.files.list({ purpose: 'batch_output' })
    const ids = outputs.data.map(f => f.id)
    for (const id of [completed.output_file_id, cancelled.output_file_id, cancelled.error_file_id]) expect(ids).toContain(id)
    expect(outputs.data.every(f => f.purpose === 'batch_output')).toBe(true)
    const inputs = await openai.files.list({ purpose: 'batch' })
    expect(inputs.data.map(f => f.id)).toContain(completed.input_file_id)
    expect(inputs.data.every(f => f.purpose === 'batch')).toBe(true)
  })

  it('cancels a batch while it validates: every line batch_cancelled or done, once', async () => {
    const lines = requestLines(VALIDATING_LINES, '/v1/chat/completions', chat(8), 'early')
    const created = await createBatch(openai, lines)
    expect((await openai.batches.cancel(created.id)).status).toBe('cancelling')
    const batch = await waitForBatch(openai, created.id)
    expect(batch.status).toBe('cancelled')
    const output = await readJsonl(openai, batch.output_file_id)
    const errors = await readJsonl(openai, batch.error_file_id)
    expect(errors.every(line => line.error.code === 'batch_cancelled')).toBe(true)
    const ids = [...output, ...errors].map(line => line.custom_id as string)
    expect(ids).toHaveLength(VALIDATING_LINES)
    expect(new Set(ids).size).toBe(VALIDATING_LINES)
    expect(batch.request_counts).toEqual({ total: VALIDATING_LINES, completed: output.length, failed: errors.length })
  })

  it('fails an invalid file even when cancelled while it validates, and sends batch.failed', async () => {
    const lines = [...requestLines(VALIDATING_LINES, '/v1/chat/completions', chat(8), 'invalid'), { custom_id: 'last', method: 'GET' }]
    const created = await createBatch(openai, lines, { extra: { webhook_url: webhooks!.url } })
    // The cancel may also come after validation ended (409): either way the batch fails.
    await openai.batches.cancel(created.id).catch(err => { expect(err).toMatchObject({ status: 409 }) })
    const batch = await waitForBatch(openai, created.id)
    expect(batch.status).toBe('failed')
    expect(batch.errors?.data?.map(e => [e.line, e.code])).toEqual([[VALIDATING_LINES + 1, 'invalid_method']])
    expect(batch.output_file_id).toBeNull()
    expect(batch.error_file_id).toBeNull()
    const event = await webhooks!.delivered('batch.failed', batch.id)
    expect(event.body.data).toMatchObject({ id: batch.id, status: 'failed' })
  })
})
