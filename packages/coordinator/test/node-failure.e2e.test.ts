import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, createBatch, openaiClient, readJsonl, requestLines, startNetwork, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-node-failure'

describe('a node dies mid-batch', () => {
  let network: TestNetwork

  beforeAll(async () => {
    network = await startNetwork({ apiKeys: [API_KEY], nodes: 2, slots: 2 })
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
  })

  it('reassigns its tasks: every line completes on the survivor, exactly once', async () => {
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForNodes(openai, 2)
    const lines = requestLines(120, '/v1/chat/completions', i => ({
      model: MODEL, messages: [{ role: 'user', content: `Story ${i}` }], max_tokens: 48, temperature: 0
    }))
    const { id } = await createBatch(openai, lines)
    const [victim, survivor] = network.nodes
    // Kill once the victim has work in flight.
    await waitForBatch(openai, id, { until: b => (b.request_counts?.completed ?? 0) >= 10, intervalMs: 20 })
    await victim.kill()

    const batch = await waitForBatch(openai, id)
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: 120, completed: 120, failed: 0 })
    const results = await readJsonl<{ custom_id: string }>(openai, batch.output_file_id)
    expect(new Set(results.map(r => r.custom_id)).size).toBe(120)
    expect(results).toHaveLength(120)
    // The coordinator noticed the loss and the survivor did the rest.
    expect(network.coordinator.lines.some(l => l.msg === 'node gone: disconnected' && l.peer === victim.peerId)).toBe(true)
    expect(survivor.child.exitCode).toBeNull()
  })
})
