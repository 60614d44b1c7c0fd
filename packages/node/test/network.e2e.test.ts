import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscovery, createDriaHost, createTaskClient } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { TaskKind, createLogger, verifyTaskResult } from '@dria/protocol'
import { createLlamaCppEngine } from '@dria/engines'
import { startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { NodeProcess } from '@dria/testkit'

const models = await testModels()
const MODEL = models.main
/** Served too: its generations run to max_tokens, so tasks on it are reliably in flight for a while. */
const LONG = models.other

describe('three dria-node processes on one DHT', () => {
  const logger = createLogger('test')
  let dir: Awaited<ReturnType<typeof tempDir>>
  let bootstrap: DriaHost
  const nodes: NodeProcess[] = []

  beforeAll(async () => {
    dir = await tempDir('dria-node-e2e-')
    bootstrap = await createDriaHost({ listenPort: 0 })
    const addrs = bootstrap.getMultiaddrs().map(ma => ma.toString())
    nodes.push(...await Promise.all([1, 2, 3].map(i => startNodeProcess({
      dataDir: join(dir.path, `node-${i}`),
      bootstrap: addrs,
      args: ['--models-dir', models.dir, '--models', `${MODEL},${LONG}`, '--slots', '2']
    }))))
  }, 120_000)

  afterAll(async () => {
    await Promise.all(nodes.map(node => node.stop()))
    await bootstrap?.stop()
    await dir?.remove()
  })

  it('each node finds the others as providers of the model and reads their signed capacity', async () => {
    // Ask through a node-independent peer: a fresh host that only knows the bootstrap peer.
    const engine = await createLlamaCppEngine({ logger }, { modelsDir: models.dir, models: [MODEL], threads: 1, slots: 1 })
    const [{ digest }] = await engine.listModels()
    await engine.close()
    const probe = await createDriaHost({ listenPort: 0, bootstrap: bootstrap.getMultiaddrs().map(ma => ma.toString()) })
    try {
      const discovery = createDiscovery({ host: probe, logger })
      let providers: string[] = []
      for (let i = 0; i < 50 && providers.length < 3; i++) {
        providers = (await discovery.findProviders(MODEL, { signal: AbortSignal.timeout(5_000) })).map(p => p.toString())
        if (providers.length < 3) await new Promise(resolve => setTimeout(resolve, 200))
      }
      expect(providers.sort()).toEqual(nodes.map(n => n.peerId).sort())
      for (const node of nodes) {
        const record = await discovery.fetchCapacity(peerIdFromString(node.peerId), { signal: AbortSignal.timeout(5_000) })
        expect(record?.models.map(m => m.name)).toEqual([MODEL, LONG])
        expect(record?.models[0].digest).toBe(digest)
        expect(record?.slotsTotal).toBe(2)
        expect(record?.models[0].tokensPerSecond).toBeGreaterThan(0)
      }
    } finally {
      await probe.stop()
    }
  })

  it('every node serves real tasks with signed results, identical for greedy requests', async () => {
    const client = createTaskClient({ host: bootstrap, logger })
    const body = new TextEncoder().encode(JSON.stringify({
      model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0
    }))
    const texts: string[] = []
    for (const [i, node] of nodes.entries()) {
      const peerId = peerIdFromString(node.peerId)
      const response = await client.run(peerId, { taskId: `t${i}`, attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model: MODEL, body, timeoutMs: 30_000 })
      expect(response.rejection).toBeUndefined()
      const result = response.result!
      expect(result.error).toBeUndefined()
      await verifyTaskResult(peerId, result)
      const output = JSON.parse(new TextDecoder().decode(result.output)) as { text: string, finish_reason: string }
      expect(output.text.length).toBeGreaterThan(0)
      expect(result.usage?.completionTokens).toBeGreaterThan(0)
      expect(result.usage?.completionTokens).toBeLessThanOrEqual(24)
      texts.push(output.text)
    }
    expect(new Set(texts).size).toBe(1)
  })

  it('refuses work beyond its slots with AT_CAPACITY and a model it does not serve with MODEL_NOT_SERVED', async () => {
    const client = createTaskClient({ host: bootstrap, logger })
    const peerId = peerIdFromString(nodes[0].peerId)
    const request = (taskId: string, model = LONG): Parameters<typeof client.run>[1] => ({
      taskId,
      attempt: 1,
      kind: TaskKind.TASK_KIND_COMPLETION,
      model,
      body: new TextEncoder().encode(JSON.stringify({ model, prompt: 'The dog', max_tokens: 400 })),
      timeoutMs: 30_000
    })
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => client.run(peerId, request(`cap-${i}`))))
    const rejected = responses.filter(r => r.rejection !== undefined)
    expect(responses.filter(r => r.result !== undefined).length).toBeGreaterThanOrEqual(2)
    expect(rejected.length).toBeGreaterThan(0)
    expect(rejected.every(r => r.rejection?.code === 'REJECTION_CODE_AT_CAPACITY')).toBe(true)

    const unknown = await client.run(peerId, request('unknown', 'no-such-model'))
    expect(unknown.rejection?.code).toBe('REJECTION_CODE_MODEL_NOT_SERVED')
  })

  it('on SIGTERM refuses new work, finishes the task in flight and delivers its answer', async () => {
    const node = nodes.pop()!
    const client = createTaskClient({ host: bootstrap, logger })
    const peerId = peerIdFromString(node.peerId)
    const long = client.run(peerId, {
      taskId: 'in-flight',
      attempt: 1,
      kind: TaskKind.TASK_KIND_COMPLETION,
      model: LONG,
      body: new TextEncoder().encode(JSON.stringify({ model: LONG, prompt: 'Once upon a time', max_tokens: 400, temperature: 0 })),
      timeoutMs: 30_000
    })
    await new Promise(resolve => setTimeout(resolve, 30))
    const exited = node.stop()
    const response = await long
    expect(response.result?.error).toBeUndefined()
    await verifyTaskResult(peerId, response.result!)
    expect(await exited).toBe(0)
    expect(node.lines.some(line => line.msg === 'node stopped')).toBe(true)
  })
})
