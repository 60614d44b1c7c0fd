import { afterEach, describe, expect, it } from 'vitest'
import { startHostilePeer } from '@dria/testkit'
import type { HostileMode, HostilePeer } from '@dria/testkit'
import {
  SYNTHETIC_MODEL, createBatch, openaiClient, readJsonl, requestLines, sleep, startSyntheticNetwork, waitForBatch, waitForModelNodes
} from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-faults'
const LINES = 240
/** sha256 of the synthetic model's name: what honest synthetic nodes advertise. */
const DIGEST = 'sha256:' + (await import('node:crypto')).createHash('sha256').update(SYNTHETIC_MODEL).digest('hex')

const lines = (n = LINES): unknown[] => requestLines(n, '/v1/chat/completions', i => ({
  model: SYNTHETIC_MODEL, messages: [{ role: 'user', content: `line ${i}` }], max_tokens: 16
}))

/** What the coordinator logged about `peer`. */
const said = (network: TestNetwork, msg: string, peer: string): number => network.coordinator.lines.filter(l => l.msg === msg && l.peer === peer).length

describe('one hostile peer among three honest nodes: nothing fails, nothing stalls', () => {
  let network: TestNetwork | undefined
  let hostile: HostilePeer | undefined

  afterEach(async () => {
    await hostile?.stop()
    await network?.stop()
    network = undefined
    hostile = undefined
  })

  async function runWith (mode: HostileMode): Promise<void> {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, {}] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 3)
    hostile = await startHostilePeer({ bootstrap: network.coordinator.multiaddrs, mode, model: SYNTHETIC_MODEL, digest: DIGEST })
    const { id } = await createBatch(openai, lines())
    const batch = await waitForBatch(openai, id, { timeoutMs: 60_000 })
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })
    const results = await readJsonl<{ custom_id: string, response: { body: { choices: Array<{ message: { content: string } }> } } }>(openai, batch.output_file_id)
    expect(new Set(results.map(r => r.custom_id)).size).toBe(LINES)
    // Honest nodes never left the view, and none was struck.
    for (const node of network.nodes) expect(said(network, 'node gone', node.peerId)).toBe(0)
    expect(network.coordinator.lines.some(l => (l.msg === 'node quarantined' || l.msg === 'node struck') && l.peer !== hostile?.peerId)).toBe(false)
  }

  it.each<HostileMode>(['lying-capacity', 'silent', 'mute', 'garbage-frames'])('%s: never gets a session, or loses it', async (mode) => {
    await runWith(mode)
    expect(said(network!, 'node joined', hostile!.peerId)).toBeLessThanOrEqual(mode === 'mute' || mode === 'garbage-frames' ? 10 : 0)
  })

  it('black-hole (acknowledges and never answers): its tasks come back, its window stays small', async () => {
    await runWith('black-hole')
    // 1,000 advertised slots opened a window of 2, and silence closed it.
    expect(hostile!.tasks).toBeLessThan(40)
  })

  it('malformed (signed garbage): a proven lie, quarantined at once', async () => {
    await runWith('malformed')
    expect(said(network!, 'node quarantined', hostile!.peerId)).toBe(1)
    expect(hostile!.tasks).toBeLessThanOrEqual(2)
  })
})

describe('node faults', () => {
  let network: Awaited<ReturnType<typeof startSyntheticNetwork>> | undefined

  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('a frozen node (SIGSTOP) loses its tasks within 10 s; the others never leave the view', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, {}], coordinatorArgs: ['--accept-unverified'] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 3)
    const [frozen, ...healthy] = network.nodes
    const { id } = await createBatch(openai, requestLines(600, '/v1/chat/completions', i => ({ model: SYNTHETIC_MODEL, messages: [{ role: 'user', content: `line ${i}` }], max_tokens: 32 })))
    await waitForBatch(openai, id, { until: b => (b.request_counts?.completed ?? 0) >= 60, intervalMs: 20 })
    frozen.child.kill('SIGSTOP')
    const frozenAt = Date.now()
    try {
      // The view drops it once pings go unanswered, and only it.
      for (;;) {
        if (said(network, 'node gone', frozen.peerId) > 0) break
        expect(Date.now() - frozenAt).toBeLessThan(10_000)
        await sleep(100)
      }
      const batch = await waitForBatch(openai, id, { timeoutMs: 60_000 })
      expect(batch.request_counts).toEqual({ total: 600, completed: 600, failed: 0 })
      for (const node of healthy) expect(said(network, 'node gone', node.peerId)).toBe(0)
      // A new node is admitted at once meanwhile.
      const late = await network.addNode({})
      await waitForModelNodes(openai, SYNTHETIC_MODEL, 3, 10_000)
      expect(said(network, 'node joined', late.peerId)).toBe(1)
    } finally {
      frozen.child.kill('SIGCONT')
    }
  })

  it('a killed node is gone at once and stays gone (no ghost), its work done by the others', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, {}], coordinatorArgs: ['--accept-unverified'] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 3)
    const [victim] = network.nodes
    const { id } = await createBatch(openai, requestLines(600, '/v1/chat/completions', i => ({ model: SYNTHETIC_MODEL, messages: [{ role: 'user', content: `line ${i}` }], max_tokens: 32 })))
    await waitForBatch(openai, id, { until: b => (b.request_counts?.completed ?? 0) >= 60, intervalMs: 20 })
    await victim.kill()
    const batch = await waitForBatch(openai, id, { timeoutMs: 60_000 })
    expect(batch.request_counts).toEqual({ total: 600, completed: 600, failed: 0 })
    expect(said(network, 'node gone', victim.peerId)).toBe(1)
    expect(said(network, 'node joined', victim.peerId)).toBe(1)
  })

  it('crashing and flapping nodes lose nothing and fail nothing', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, { crashAfter: 40 }, { flapEveryMs: 700 }], coordinatorArgs: ['--accept-unverified'] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    // The flapping one comes and goes.
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 3)
    const { id } = await createBatch(openai, lines(400))
    const batch = await waitForBatch(openai, id, { timeoutMs: 60_000 })
    expect(batch.request_counts).toEqual({ total: 400, completed: 400, failed: 0 })
    const results = await readJsonl<{ custom_id: string }>(openai, batch.output_file_id)
    expect(new Set(results.map(r => r.custom_id)).size).toBe(400)
  })
})
