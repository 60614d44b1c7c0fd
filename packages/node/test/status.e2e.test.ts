import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscovery, createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { createLogger } from '@dria/protocol'
import { BINARIES, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { NodeProcess } from '@dria/testkit'
import { chatTask, nodeSession } from './session-client.js'

const models = await testModels()
const MODEL = models.main
const ANNOUNCED = '/ip4/203.0.113.7/tcp/4999'
const run = promisify(execFile)

describe('dria-node status and models', () => {
  const logger = createLogger('test')
  let dir: Awaited<ReturnType<typeof tempDir>>
  let bootstrap: DriaHost
  let node: NodeProcess
  const port = (): string => new URL(node.statusUrl).port
  const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, [BINARIES.node, ...args, '--status-port', port()])).stdout

  beforeAll(async () => {
    dir = await tempDir('dria-node-status-')
    bootstrap = await createDriaHost({ listenPort: 0 })
    node = await startNodeProcess({
      dataDir: join(dir.path, 'node'),
      bootstrap: bootstrap.getMultiaddrs().map(String),
      // models.other is found but not asked for: `models` says why it is not served.
      args: ['--models-dir', models.dir, '--models', MODEL, '--slots', '2', '--announce', ANNOUNCED]
    })
  })

  afterAll(async () => {
    await node?.stop()
    await bootstrap?.stop()
    await dir?.remove()
  })

  it('announces the --announce address instead of the listen address, also in its capacity record', async () => {
    const ready = node.lines.find(l => l.msg === 'node ready')
    expect(ready?.multiaddrs).toEqual([`${ANNOUNCED}/p2p/${node.peerId}`])
    const discovery = createDiscovery({ host: bootstrap, logger })
    let record
    for (let i = 0; i < 50 && record === undefined; i++) {
      record = await discovery.fetchCapacity(peerIdFromString(node.peerId), { signal: AbortSignal.timeout(5_000) }).catch(() => undefined)
      if (record === undefined) await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(record?.multiaddrs).toEqual([`${ANNOUNCED}/p2p/${node.peerId}`])
  })

  it('counts finished and refused tasks and their tokens, with one log line per finished task', async () => {
    const session = await nodeSession(bootstrap, node.peerId)
    const body = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 12, temperature: 0 }
    const usage = { prompt: 0, completion: 0 }
    for (let i = 0; i < 3; i++) {
      const { result } = await session.run(chatTask(`ok-${i}`, MODEL, body), { deadlineMs: 30_000 })
      expect(result?.error).toBeUndefined()
      usage.prompt += result?.usage?.promptTokens ?? 0
      usage.completion += result?.usage?.completionTokens ?? 0
    }
    const refused = await session.run(chatTask('nope', 'no-such-model', body), { deadlineMs: 30_000 })
    expect(refused.rejection).toBeDefined()
    session.close()

    const status = JSON.parse(await cli('status', '--json')) as Record<string, any>
    expect(status.peerId).toBe(node.peerId)
    expect(status.engine).toBe('llamacpp')
    expect(status.tasks).toMatchObject({ completed: 3, failed: 0, rejected: 1, rejectedByCode: { MODEL_NOT_SERVED: 1 }, promptTokens: usage.prompt, completionTokens: usage.completion })
    expect(status.tasks.lastTaskAt).toBeGreaterThan(0)
    expect(status.network.connectedPeers).toBeGreaterThanOrEqual(1)
    expect(status.network.bootstrap).toEqual([{ address: bootstrap.getMultiaddrs()[0].toString(), connected: true }])
    expect(status.slots).toEqual({ total: 2, used: 0, queued: 0 })
    expect(status.coordinators).toEqual([])

    const finished = node.lines.filter(l => l.msg === 'task finished')
    expect(finished).toHaveLength(3)
    for (const line of finished) {
      expect(line).toMatchObject({ model: MODEL, outcome: 'completed', peer: bootstrap.peerId.toString() })
      expect(line.level).toBe(30)
      expect(JSON.stringify(line)).not.toContain('Hello')
    }

    const text = await cli('status')
    expect(text).toContain(`node ${node.peerId} (llamacpp)`)
    expect(text).toContain('tasks: 3 completed, 0 failed, 1 refused (MODEL_NOT_SERVED 1)')
    expect(text).toContain(`tokens served: ${usage.completion} generated`)
    expect(text).toContain('coordinators: no report yet')
  })

  it('lists what it serves at what speed, and why the rest is not served', async () => {
    const answer = JSON.parse(await cli('models', '--json')) as { engine: string, models: Array<{ name: string, served: boolean, tokensPerSecond?: number, reason?: string }>, tried: string }
    expect(answer.engine).toBe('llamacpp')
    const served = answer.models.find(m => m.name === MODEL)
    expect(served?.served).toBe(true)
    expect(served?.tokensPerSecond).toBeGreaterThan(0)
    expect(answer.models.find(m => m.name === models.other)).toMatchObject({ served: false, reason: 'not in --models' })
    expect(answer.tried).toContain(`models dir ${models.dir}`)
    const text = await cli('models')
    expect(text).toMatch(new RegExp(`${models.other}\\s+not served.*not in --models`))
  })

  it('status of a node that is not running: NODE_NOT_RUNNING, exit code 1', async () => {
    const result = await run(process.execPath, [BINARIES.node, 'status', '--status-port', '1']).catch((err: { code: number, stderr: string }) => err)
    expect((result as { code: number }).code).toBe(1)
    expect(result.stderr.trim()).toMatch(/\[NODE_NOT_RUNNING\]$/)
  })
})
