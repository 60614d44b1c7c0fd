import { join } from 'node:path'
import type OpenAI from 'openai'
import type { Batch } from 'openai/resources/batches'
import { postgresSkipReason, startCoordinatorProcess, startPostgres, startTestNode, tempDir } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess, TestPostgres } from '@dria/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { SYNTHETIC_MODEL, createBatch, openaiClient, readJsonl, requestLines, sleep, waitForBatch, waitForModelNodes } from './harness.js'

const API_KEY = 'sk-scale-out'
const LINES = 2_000
const skip = postgresSkipReason()
if (skip !== undefined) console.warn(skip)

describe.skipIf(skip !== undefined)('two coordinators on one PostgreSQL', { timeout: 120_000 }, () => {
  let server: TestPostgres | undefined
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  const processes: Array<CoordinatorProcess | NodeProcess> = []

  afterAll(async () => {
    await Promise.all(processes.map(async p => await p.stop(2_000)))
    await server?.stop()
    await dir?.remove()
  })

  it('a batch cancelled through the other coordinator stops; a batch survives SIGKILL of the coordinator that took it: completed once per custom_id, the survivor answering throughout', async () => {
    server = await startPostgres()
    dir = await tempDir('dria-scale-out-')
    const url = await server.createDatabase()
    const shared = ['--store', url, '--files-dir', join(dir.path, 'files'), '--secret-file', join(dir.path, 'server-secret')]
    const [a, b] = await Promise.all(['a', 'b'].map(async name => await startCoordinatorProcess({ dataDir: join(dir!.path, name), apiKeys: [API_KEY], args: shared })))
    processes.push(a, b)
    const nodes = await Promise.all([0, 1, 2].map(async i => await startTestNode({
      dataDir: join(dir!.path, `node-${i}`),
      bootstrap: [...a.multiaddrs, ...b.multiaddrs],
      slots: 4,
      engine: { type: 'synthetic', models: [{ name: SYNTHETIC_MODEL }], tokensPerSecond: 400 }
    })))
    processes.push(...nodes)
    const [viaA, viaB] = [openaiClient(a.url, API_KEY), openaiClient(b.url, API_KEY)]
    await Promise.all([waitForModelNodes(viaA, SYNTHETIC_MODEL, 3), waitForModelNodes(viaB, SYNTHETIC_MODEL, 3)])

    // The client round-robins over both base URLs, moving on from one that does not answer.
    const clients = [viaA, viaB]
    let turn = 0
    const anyCoordinator = async <T>(call: (client: OpenAI) => Promise<T>): Promise<T> => {
      for (let tries = 0; ; tries++) {
        const client = clients[turn++ % clients.length]
        try {
          return await call(client)
        } catch (err) {
          if (tries >= clients.length * 3) throw err
        }
      }
    }
    // A batch created through one coordinator and cancelled through the other ends cancelled
    // everywhere, each line once in its output or error file.
    const cancelled = await createBatch(viaB, requestLines(300, '/v1/chat/completions', i => ({ model: SYNTHETIC_MODEL, messages: [{ role: 'user', content: `other ${i}` }], max_tokens: 16 }), 'other'))
    await waitForBatch(viaA, cancelled.id, { until: b => b.status === 'in_progress' && (b.request_counts?.completed ?? 0) > 0, intervalMs: 50 })
    await viaA.batches.cancel(cancelled.id)
    const stopped = await waitForBatch(viaB, cancelled.id, { intervalMs: 100, timeoutMs: 30_000 })
    expect(stopped.status).toBe('cancelled')
    const settled = [...await readJsonl<{ custom_id: string }>(viaB, stopped.output_file_id), ...await readJsonl<{ custom_id: string }>(viaA, stopped.error_file_id)]
    expect(settled.map(r => r.custom_id).sort()).toEqual(Array.from({ length: 300 }, (_, i) => `other-${i}`).sort())
    expect(stopped.request_counts!.total).toBe(300)
    expect(stopped.request_counts!.completed + stopped.request_counts!.failed).toBe(300)

    const lines = requestLines(LINES, '/v1/chat/completions', i => ({ model: SYNTHETIC_MODEL, messages: [{ role: 'user', content: `line ${i}` }], max_tokens: 16 }))
    const created = await createBatch(viaA, lines)
    // Both coordinators serve it: any one answers for a batch another created.
    expect((await viaB.batches.retrieve(created.id)).id).toBe(created.id)

    let batch: Batch = created
    while (batch.request_counts === undefined || batch.request_counts.completed < LINES / 2) {
      batch = await anyCoordinator(async client => await client.batches.retrieve(created.id))
      expect(['validating', 'in_progress']).toContain(batch.status)
      await sleep(50)
    }
    await a.kill()
    const killedAt = Date.now()

    // From here the survivor alone: every request to it must succeed.
    const survivorCounts: number[] = []
    for (;;) {
      batch = await viaB.batches.retrieve(created.id)
      survivorCounts.push(batch.request_counts?.completed ?? 0)
      if (batch.status === 'completed' || Date.now() - killedAt > 60_000) break
      await sleep(100)
    }
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 })
    const results = await readJsonl<{ custom_id: string, response: { status_code: number } }>(viaB, batch.output_file_id)
    expect(results).toHaveLength(LINES)
    expect(new Set(results.map(r => r.custom_id))).toEqual(new Set(lines.map(l => (l as { custom_id: string }).custom_id)))
    expect(results.every(r => r.response.status_code === 200)).toBe(true)
    expect(batch.error_file_id).toBeNull()
    // Counts seen through the survivor never went backwards.
    expect(survivorCounts).toEqual([...survivorCounts].sort((x, y) => x - y))
    // A's leases expired and B took its tasks over: some settled after the kill.
    expect(b.lines.some(l => l.msg === 'batch status' && l.status === 'completed' && l.batchId === created.id)).toBe(true)
  })
})
