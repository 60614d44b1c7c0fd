/**
 * Network benchmark (`pnpm bench network`): a coordinator and two nodes as real processes.
 * Baseline: each node's standalone throughput (tasks sent straight to it, one node at a time).
 * Measured: a batch of the same requests through the HTTP API, spread over both nodes.
 */
import { writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { DriaClient } from '@dria/cli'
import { directSession } from './direct.js'
import { createDriaHost } from '@dria/p2p'
import { TaskKind } from '@dria/protocol'
import { printTable, runConcurrently, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { NodeProcess } from '@dria/testkit'

// stories260K from ../shared when it is there, else the generated dria-tiny (numbers then differ).
const models = await testModels()
const MODEL = models.main
const SLOTS = 4
const API_KEY = 'bench-key'

const body = (i: number, maxTokens: number): Record<string, unknown> => ({
  model: MODEL,
  messages: [{ role: 'user', content: `Once upon a time, in story number ${i},` }],
  max_tokens: maxTokens,
  temperature: 0
})

export async function main (args: string[] = []): Promise<void> {
  const requests = Number(args[0] ?? 200)
  const maxTokens = 128
  const dir = await tempDir('dria-bench-network-')
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY] })
  const nodes = await Promise.all([1, 2].map(async i => await startNodeProcess({
    dataDir: join(dir.path, `node-${i}`),
    bootstrap: coordinator.multiaddrs,
    args: ['--models-dir', models.dir, '--models', MODEL, '--slots', String(SLOTS)]
  })))
  const probe = await createDriaHost({ listenPort: 0 })
  try {
    // Standalone: each node alone, its share of the requests, SLOTS in flight.
    const direct = async (node: NodeProcess, count: number): Promise<number> => {
      const session = await directSession(probe, node)
      const results = await runConcurrently(count, SLOTS, async i => await session.run({
        taskId: `solo-${i}`,
        attempt: 1,
        kind: TaskKind.TASK_KIND_CHAT,
        model: MODEL,
        body: new TextEncoder().encode(JSON.stringify(body(i, maxTokens))),
        timeoutMs: 60_000
      }, { deadlineMs: 60_000 }))
      session.close()
      return results.reduce((sum, r) => sum + (r.result?.usage?.completionTokens ?? 0), 0)
    }
    const share = Math.ceil(requests / nodes.length)
    const standalone: number[] = []
    for (const node of nodes) {
      const started = performance.now()
      const tokens = await direct(node, share)
      standalone.push(tokens / ((performance.now() - started) / 1000))
    }
    // Both nodes at once, straight from this process: what this machine gives two nodes sharing its cores.
    const bothStarted = performance.now()
    const bothTokens = (await Promise.all(nodes.map(async node => await direct(node, share)))).reduce((a, b) => a + b, 0)
    const bothTps = bothTokens / ((performance.now() - bothStarted) / 1000)

    // Through the network: one batch, both nodes.
    const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
    for (let i = 0; i < 100 && !(await api.models()).some(m => m.nodes === nodes.length); i++) await new Promise(resolve => setTimeout(resolve, 100))
    const input = join(dir.path, 'batch.jsonl')
    await writeFile(input, Array.from({ length: requests }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: body(i, maxTokens) })).join('\n'))
    const file = await api.uploadFile(input)
    const started = performance.now()
    const created = await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
    const batch = await api.waitForBatch(created.id, { intervalMs: 50 })
    const seconds = (performance.now() - started) / 1000
    if (batch.status !== 'completed' || batch.request_counts.failed > 0) throw new Error(`batch ended ${batch.status} with ${batch.request_counts.failed} failures`)
    const networkTps = (batch.usage?.output_tokens ?? 0) / seconds
    const sum = standalone.reduce((a, b) => a + b, 0)

    printTable([
      ...standalone.map((tps, i) => ({ measurement: `node ${i + 1} standalone (baseline)`, 'tokens/s': tps, detail: `${Math.ceil(requests / nodes.length)} requests, ${SLOTS} in flight` })),
      { measurement: 'sum of standalone', 'tokens/s': sum, detail: '' },
      { measurement: 'both nodes at once, direct (no coordinator)', 'tokens/s': bothTps, detail: `${requests} requests; the nodes share ${availableParallelism()} cores` },
      { measurement: 'network batch (HTTP → coordinator → 2 nodes)', 'tokens/s': networkTps, detail: `${requests} requests, ${batch.usage?.output_tokens} tokens in ${seconds.toFixed(2)} s (create → completed)` },
      { measurement: 'network / sum of standalone', 'tokens/s': networkTps / sum, detail: 'target ≥ 0.9' },
      { measurement: 'network / both nodes direct', 'tokens/s': networkTps / bothTps, detail: 'coordinator overhead on shared cores' }
    ])
  } finally {
    await probe.stop()
    await Promise.all([...nodes, coordinator].map(async p => await p.stop()))
    await dir.remove()
  }
}
