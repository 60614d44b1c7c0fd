import { join } from 'node:path'
import OpenAI, { toFile } from 'openai'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'

const models = await testModels()
const MODEL = models.main
const API_KEY = 'sk-durability'
const LINES = 300

describe('coordinator killed with SIGKILL mid-batch', () => {
  const processes: Array<CoordinatorProcess | NodeProcess> = []
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined

  afterAll(async () => {
    await Promise.all(processes.map(async p => await p.kill()))
    await dir?.remove()
  })

  it('finishes the batch after each restart with every custom_id exactly once', async () => {
    dir = await tempDir('dria-durability-')
    const dataDir = join(dir.path, 'coordinator')
    // Same identity (data dir) and p2p port after each restart, so nodes reconnect to it.
    const p2pPort = await freePort()
    const start = async (): Promise<{ coordinator: CoordinatorProcess, openai: OpenAI }> => {
      const coordinator = await startCoordinatorProcess({ dataDir, apiKeys: [API_KEY], args: ['--p2p-port', String(p2pPort)] })
      processes.push(coordinator)
      return { coordinator, openai: new OpenAI({ baseURL: `${coordinator.url}/v1`, apiKey: API_KEY, maxRetries: 0 }) }
    }
    let { coordinator, openai } = await start()
    const nodes = await Promise.all([1, 2].map(async i => await startNodeProcess({
      dataDir: join(dir!.path, `node-${i}`),
      bootstrap: coordinator.multiaddrs,
      args: ['--models-dir', models.dir, '--models', MODEL, '--slots', '4']
    })))
    processes.push(...nodes)
    const waitForNodes = async (): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        const models = await openai.models.list()
        if (models.data.some(m => (m as unknown as { nodes: number }).nodes === 2)) return
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      throw new Error('nodes did not come back')
    }
    await waitForNodes()

    const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({
      custom_id: `line-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: [{ role: 'user', content: `Story ${i}: once upon a time` }], max_tokens: 24, temperature: 0 }
    }))
    const file = await openai.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'durable.jsonl'), purpose: 'batch' })
    const { id } = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })

    const restart = async (): Promise<void> => {
      await coordinator.kill()
      ;({ coordinator, openai } = await start())
      await waitForNodes()
    }
    const waitForProgress = async (done: number): Promise<void> => {
      for (let i = 0; i < 600; i++) {
        const batch = await openai.batches.retrieve(id)
        if (batch.request_counts!.completed >= done || batch.status === 'completed') return
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      throw new Error(`batch did not reach ${done} completed requests`)
    }

    await restart() // right after create: validating or just split
    await waitForProgress(60)
    await restart() // mid-batch, tasks in flight on both nodes
    await waitForProgress(180)
    await restart()

    let batch = await openai.batches.retrieve(id)
    for (let i = 0; i < 1200 && batch.status !== 'completed'; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      batch = await openai.batches.retrieve(id)
    }
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })
    const output = await (await openai.files.content(batch.output_file_id!)).text()
    const ids = output.trim().split('\n').map(line => (JSON.parse(line) as { custom_id: string }).custom_id)
    expect(ids).toHaveLength(LINES)
    expect(new Set(ids).size).toBe(LINES)
    expect(batch.error_file_id).toBeNull()
  }, 300_000)
})
