import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, createBatch, openaiClient, readJsonl, requestLines, startNetwork, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-node-failure'

describe('a node dies mid-batch', () => {
  let network: TestNetwork

  beforeAll(async () => {
    network = await startNetwork({ apiKeys: [API_KEY], nodes: 3, slots: 2 })
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
  })

  it('reassigns its tasks: every line completes on the survivors, checked by each other, exactly once', async () => {
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForNodes(openai, 3)
    const lines = requestLines(120, '/v1/chat/completions', i => ({
      model: MODEL, messages: [{ role: 'user', content: `Story ${i}` }], max_tokens: 48, temperature: 0
    }))
    const { id } = await createBatch(openai, lines)
    const [victim, ...survivors] = network.nodes
    // Kill once the victim has work in flight.
    await waitForBatch(openai, id, { until: b => (b.request_counts?.completed ?? 0) >= 10, intervalMs: 20 })
    await victim.kill()

    const batch = await waitForBatch(openai, id)
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: 120, completed: 120, failed: 0 })
    const results = await readJsonl<{ custom_id: string }>(openai, batch.output_file_id)
    expect(new Set(results.map(r => r.custom_id)).size).toBe(120)
    expect(results).toHaveLength(120)
    // The coordinator noticed the loss at once and the survivors did the rest.
    expect(network.coordinator.lines.some(l => l.msg === 'node gone' && l.peer === victim.peerId)).toBe(true)
    for (const survivor of survivors) expect(survivor.child.exitCode).toBeNull()
    // Nobody was struck: the victim's unanswered tasks were not its lines' fault, nor anyone's lie.
    expect(network.coordinator.lines.some(l => l.msg === 'node quarantined' || l.msg === 'node struck')).toBe(false)
  })
})
