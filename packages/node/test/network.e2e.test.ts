import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscovery, createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { createLogger, verifyTaskResult } from '@dria/protocol'
import { createLlamaCppEngine } from '@dria/engines'
import { startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { NodeProcess } from '@dria/testkit'
import { chatTask, completionTask, nodeSession } from './session-client.js'

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

  it('every node serves real tasks with signed results, identical for greedy and for seeded requests', async () => {
    for (const sampling of [{ temperature: 0 }, { temperature: 0.9, seed: 7 }]) {
      const texts: string[] = []
      for (const [i, node] of nodes.entries()) {
        const session = await nodeSession(bootstrap, node.peerId)
        const reply = await session.run(chatTask(`t${i}`, MODEL, { messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, ...sampling }), { deadlineMs: 30_000 })
        session.close()
        expect(reply.rejection).toBeUndefined()
        const result = reply.result!
        expect(result.error).toBeUndefined()
        await verifyTaskResult(peerIdFromString(node.peerId), result)
        const output = JSON.parse(new TextDecoder().decode(result.output)) as { text: string, finish_reason: string }
        expect(output.text.length).toBeGreaterThan(0)
        expect(result.usage?.completionTokens).toBeGreaterThan(0)
        expect(result.usage?.completionTokens).toBeLessThanOrEqual(24)
        texts.push(output.text)
      }
      expect(new Set(texts).size).toBe(1)
    }
  })

  it('samples from the seed the task carries: the same seed gives the same text, another seed another', async () => {
    const session = await nodeSession(bootstrap, nodes[0].peerId)
    const run = async (taskId: string, seed: number): Promise<string> => {
      const reply = await session.run({ ...completionTask(taskId, MODEL, { prompt: 'Once upon a time', max_tokens: 40, temperature: 1 }), seed }, { deadlineMs: 30_000 })
      return (JSON.parse(new TextDecoder().decode(reply.result!.output)) as { text: string }).text
    }
    expect(await run('s1', 11)).toBe(await run('s2', 11))
    const others = new Set(await Promise.all([12, 13, 14].map(async (seed, i) => await run(`s${i + 3}`, seed))))
    expect(others.size).toBeGreaterThan(1)
    session.close()
  })

  it('acknowledges at once, queues up to its queue depth, refuses beyond with AT_CAPACITY, and a model it does not serve with MODEL_NOT_SERVED', async () => {
    const session = await nodeSession(bootstrap, nodes[0].peerId)
    const long = (i: number, model = LONG): ReturnType<typeof completionTask> => completionTask(`cap-${i}`, model, { prompt: 'The dog', max_tokens: 400 })
    // 2 slots + 2 queued (the default queue depth is the slot count).
    const replies = await Promise.all(Array.from({ length: 6 }, async (_, i) => await session.run(long(i), { deadlineMs: 30_000 })))
    const rejected = replies.filter(r => r.rejection !== undefined)
    expect(replies.filter(r => r.result !== undefined)).toHaveLength(4)
    expect(rejected.map(r => r.rejection?.code)).toEqual(['REJECTION_CODE_AT_CAPACITY', 'REJECTION_CODE_AT_CAPACITY'])

    const unknown = await session.run(long(9, 'no-such-model'), { deadlineMs: 30_000 })
    expect(unknown.rejection?.code).toBe('REJECTION_CODE_MODEL_NOT_SERVED')
    session.close()
  })

  it('stops a cancelled task and gives its slot to the next one', async () => {
    const session = await nodeSession(bootstrap, nodes[1].peerId)
    const controllers = [new AbortController(), new AbortController()]
    const hogs = controllers.map(async (c, i) => await session.run(completionTask(`hog-${i}`, LONG, { prompt: 'Once', max_tokens: 1500 }), { deadlineMs: 60_000, signal: c.signal }).catch(err => err))
    await new Promise(resolve => setTimeout(resolve, 100))
    controllers.forEach(c => { c.abort(new Error('backup won')) })
    expect((await Promise.all(hogs)).map(e => (e as Error).message)).toEqual(['backup won', 'backup won'])
    // Both slots are free again: two short tasks run at once and finish quickly.
    const started = Date.now()
    const replies = await Promise.all([0, 1].map(async i => await session.run(completionTask(`after-${i}`, MODEL, { prompt: 'Once', max_tokens: 8 }), { deadlineMs: 30_000 })))
    expect(replies.every(r => r.result?.error === undefined)).toBe(true)
    expect(Date.now() - started).toBeLessThan(20_000)
    session.close()
  })

  it('on SIGTERM refuses new work, finishes the tasks running, hands back those queued, and delivers every answer', async () => {
    const node = nodes.pop()!
    const session = await nodeSession(bootstrap, node.peerId)
    const peerId = peerIdFromString(node.peerId)
    const tasks = [0, 1, 2].map(async i => await session.run(completionTask(`in-flight-${i}`, LONG, { prompt: 'Once upon a time', max_tokens: 400, temperature: 0 }), { deadlineMs: 30_000 }))
    await new Promise(resolve => setTimeout(resolve, 50))
    const exited = node.stop()
    const [a, b, queued] = await Promise.all(tasks)
    for (const reply of [a, b]) {
      expect(reply.result?.error).toBeUndefined()
      await verifyTaskResult(peerId, reply.result!)
    }
    expect(queued.result?.error).toMatchObject({ code: 'NODE_SHUTTING_DOWN', retryable: true })
    expect(await exited).toBe(0)
    expect(node.lines.some(line => line.msg === 'node stopped')).toBe(true)
  })
})
