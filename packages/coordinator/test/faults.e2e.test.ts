import { afterAll, afterEach, describe, expect, it } from 'vitest'
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

describe('hostile peers among three honest nodes: nothing fails, nothing stalls', { timeout: 120_000 }, () => {
  let network: TestNetwork | undefined
  const hostile = new Map<HostileMode, HostilePeer>()

  afterAll(async () => {
    await Promise.all([...hostile.values()].map(async peer => { await peer.stop() }))
    await network?.stop()
  })

  it('every line completes exactly once; liars never get a session or lose it; honest nodes never leave the view', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, {}] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 3)
    const modes: HostileMode[] = ['lying-capacity', 'silent', 'mute', 'black-hole', 'malformed', 'garbage-frames']
    for (const mode of modes) hostile.set(mode, await startHostilePeer({ bootstrap: network.coordinator.multiaddrs, mode, model: SYNTHETIC_MODEL, digest: DIGEST }))
    const hostileSince = Date.now()
    for (let round = 0; round < 2; round++) {
      const { id } = await createBatch(openai, lines())
      const batch = await waitForBatch(openai, id, { timeoutMs: 60_000 })
      expect(batch.status).toBe('completed')
      expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })
      const results = await readJsonl<{ custom_id: string }>(openai, batch.output_file_id)
      expect(new Set(results.map(r => r.custom_id)).size).toBe(LINES)
    }
    const peer = (mode: HostileMode): string => hostile.get(mode)!.peerId
    // Nothing to dial, or nothing said: never a session.
    for (const mode of ['lying-capacity', 'silent'] as const) expect(said(network, 'node joined', peer(mode))).toBe(0)
    // Sessions that answered nothing end, and each comes back later than the last: redials back
    // off from 1 s, doubling, so a peer gets at most 1 + log2(1 + elapsed / 1 s) sessions.
    const mostSessions = 1 + Math.ceil(Math.log2(1 + (Date.now() - hostileSince) / 1_000))
    for (const mode of ['mute', 'black-hole', 'garbage-frames'] as const) expect(said(network, 'node joined', peer(mode))).toBeLessThanOrEqual(mostSessions)
    // 1,000 advertised slots opened a window of 2, and silence closed it.
    expect(hostile.get('black-hole')!.tasks).toBeLessThan(40)
    // Signed garbage is a proven lie: quarantined at once.
    expect(said(network, 'node quarantined', peer('malformed'))).toBe(1)
    expect(hostile.get('malformed')!.tasks).toBeLessThanOrEqual(2)
    // Honest nodes never left the view, and none was struck.
    for (const node of network.nodes) expect(said(network, 'node gone', node.peerId)).toBe(0)
    const liars = new Set([...hostile.values()].map(h => h.peerId))
    expect(network.coordinator.lines.some(l => (l.msg === 'node quarantined' || l.msg === 'node struck') && !liars.has(l.peer as string))).toBe(false)
  })
})

describe('node faults', { timeout: 120_000 }, () => {
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

  it('a batch submitted while every node is away waits for them instead of failing', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}], coordinatorArgs: ['--accept-unverified'] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 1)
    await network.nodes[0].kill()
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 0)
    const { id } = await createBatch(openai, lines(20))
    expect((await waitForBatch(openai, id, { until: b => b.status !== 'validating' })).status).toBe('in_progress')
    await network.addNode({})
    const batch = await waitForBatch(openai, id, { timeoutMs: 60_000 })
    expect(batch.request_counts).toEqual({ total: 20, completed: 20, failed: 0 })
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
