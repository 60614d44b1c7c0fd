import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type OpenAI from 'openai'
import { LONG_MODEL, MODEL, createBatch, errorCode, openaiClient, readJsonl, requestLines, sleep, startNetwork, startWebhookReceiver, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork, WebhookReceiver } from './harness.js'

const API_KEY = 'sk-e2e-expiry'
// One slot generating 64 tokens a line (LONG_MODEL never stops early): far more work than fits in 3 seconds.
const LINES = 600
// Enough lines that failing the unfinished ones takes longer than the 1 s expiry check.
const MANY_LINES = 25_000

describe('a batch that outlives its completion window', () => {
  let network: TestNetwork | undefined
  let webhooks: WebhookReceiver | undefined
  let openai: OpenAI

  beforeAll(async () => {
    webhooks = await startWebhookReceiver()
    network = await startNetwork({ apiKeys: [API_KEY], coordinatorArgs: ['--completion-window-seconds', '3', '--allow-http-webhooks'], slots: 1, models: [MODEL, LONG_MODEL] })
    openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForNodes(openai, 1)
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
    await webhooks?.close()
  })

  it('ends expired: finished lines in the output file, the rest batch_expired, each custom_id once', async () => {
    const lines = requestLines(LINES, '/v1/chat/completions', i => ({ model: LONG_MODEL, messages: [{ role: 'user', content: `Tell a story about ${i} cats` }], max_tokens: 64 }))
    const created = await createBatch(openai, lines, { extra: { webhook_url: webhooks!.url } })
    expect(created.expires_at).toBe(created.created_at + 3)

    const batch = await waitForBatch(openai, created.id, { timeoutMs: 60_000 })
    expect(batch.status).toBe('expired')
    expect(batch.expired_at).toBeGreaterThanOrEqual(batch.expires_at!)
    expect(batch.completed_at).toBeNull()

    const output = await readJsonl(openai, batch.output_file_id)
    const errors = await readJsonl(openai, batch.error_file_id)
    expect(output.length).toBeGreaterThan(0)
    expect(errors.length).toBeGreaterThan(0)
    for (const line of output) {
      expect(line.error).toBeNull()
      expect(line.response.status_code).toBe(200)
      expect(line.response.body.object).toBe('chat.completion')
    }
    for (const line of errors) {
      expect(line.response).toBeNull()
      expect(line.error.code).toBe('batch_expired')
    }

    const ids = [...output, ...errors].map(line => line.custom_id as string)
    expect(ids).toHaveLength(LINES)
    expect(new Set(ids)).toEqual(new Set(lines.map(line => (line as { custom_id: string }).custom_id)))
    expect(batch.request_counts).toEqual({ total: LINES, completed: output.length, failed: errors.length })
    const sum = (field: string): number => output.reduce((total, line) => total + (line.response.body.usage[field] as number), 0)
    expect(batch.usage).toMatchObject({ input_tokens: sum('prompt_tokens'), output_tokens: sum('completion_tokens'), total_tokens: sum('total_tokens') })

    const event = await webhooks!.delivered('batch.expired', batch.id)
    expect(event.body.data).toMatchObject({ id: batch.id, status: 'expired', output_file_id: batch.output_file_id, error_file_id: batch.error_file_id })
  }, 90_000)

  it('stops a batch too large to stop within one expiry check only once, and refuses to cancel it meanwhile', async () => {
    const lines = requestLines(MANY_LINES, '/v1/chat/completions', i => ({ model: LONG_MODEL, messages: [{ role: 'user', content: `Cat ${i}` }], max_tokens: 64 }), 'many')
    const created = await createBatch(openai, lines)
    // Running, past its deadline, and at least one expiry check later: the batch is being
    // stopped (or already is). Validation may itself outlast the window on a busy machine.
    await waitForBatch(openai, created.id, { until: b => b.status !== 'validating' })
    await sleep(Math.max(1_500, created.expires_at! * 1000 + 1_500 - Date.now()))
    const cancel = await fetch(`${network!.coordinator.url}/v1/batches/${created.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } })
    expect(cancel.status).toBe(409)
    expect(await errorCode(cancel)).toBe('batch_wrong_status')

    const batch = await waitForBatch(openai, created.id, { timeoutMs: 60_000 })
    expect(batch.status).toBe('expired')
    expect(batch.cancelling_at).toBeNull()
    const output = await readJsonl(openai, batch.output_file_id)
    const errors = await readJsonl(openai, batch.error_file_id)
    expect(output.length + errors.length).toBe(MANY_LINES)
    expect(batch.request_counts).toEqual({ total: MANY_LINES, completed: output.length, failed: errors.length })
    const files = (await openai.files.list({ purpose: 'batch_output' })).data.filter(f => f.filename.startsWith(batch.id))
    expect(files.map(f => f.id).sort()).toEqual([batch.output_file_id, batch.error_file_id].sort())
  }, 90_000)
})
