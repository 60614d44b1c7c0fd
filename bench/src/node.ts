/**
 * Node daemon benchmark (`pnpm bench node`):
 * - process start → advertised, for a tiny model;
 * - protocol overhead per task (round trip minus the node's engine time);
 * - throughput through the daemon vs the same engine called in-process (same model, slots).
 */
import { join } from 'node:path'
import { createLlamaCppEngine } from '@dria/engines'
import { createDriaHost } from '@dria/p2p'
import { TaskKind, createLogger } from '@dria/protocol'
import { directSession } from './direct.js'
import { median, percentile, printTable, runConcurrently, startNodeProcess, tempDir, testModels } from '@dria/testkit'

// stories260K from ../shared when it is there, else the generated dria-tiny (numbers then differ).
const models = await testModels()
const MODEL = models.main
const SLOTS = 4
const prompt = (i: number): string => `Once upon a time, in story number ${i},`

export async function main (args: string[] = []): Promise<void> {
  const requests = Number(args[0] ?? 64)
  const maxTokens = 128
  const logger = createLogger('bench', 'silent')
  const dir = await tempDir('dria-bench-node-')
  const bootstrap = await createDriaHost({ listenPort: 0 })
  const addrs = bootstrap.getMultiaddrs().map(ma => ma.toString())
  const nodeArgs = ['--models-dir', models.dir, '--models', MODEL, '--slots', String(SLOTS)]
  try {
    // 1. Start to advertised: spawn → "node ready" (logged after provider + capacity records are stored).
    const startTimes: number[] = []
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      const node = await startNodeProcess({ dataDir: join(dir.path, `start-${i}`), bootstrap: addrs, args: nodeArgs })
      startTimes.push(performance.now() - started)
      await node.stop()
    }

    const node = await startNodeProcess({ dataDir: join(dir.path, 'node'), bootstrap: addrs, args: nodeArgs })
    const session = await directSession(bootstrap, node)
    const send = async (i: number, tokens: number): Promise<{ roundTripMs: number, engineMs: number, completionTokens: number }> => {
      const started = performance.now()
      const response = await session.run({
        taskId: `bench-${i}`,
        attempt: 1,
        kind: TaskKind.TASK_KIND_COMPLETION,
        model: MODEL,
        body: new TextEncoder().encode(JSON.stringify({ model: MODEL, prompt: prompt(i), max_tokens: tokens, temperature: 0 })),
        timeoutMs: 60_000
      }, { deadlineMs: 60_000 })
      const roundTripMs = performance.now() - started
      const result = response.result
      if (result === undefined || result.error !== undefined) throw new Error(`task failed: ${JSON.stringify(response.rejection ?? result?.error)}`)
      return { roundTripMs, engineMs: (result.timings?.engineMs ?? 0) + (result.timings?.queueMs ?? 0), completionTokens: result.usage?.completionTokens ?? 0 }
    }

    // 2. Protocol overhead: sequential short tasks.
    for (let i = 0; i < 20; i++) await send(i, 4)
    const overheads: number[] = []
    for (let i = 0; i < 300; i++) {
      const { roundTripMs, engineMs } = await send(i, 4)
      overheads.push(roundTripMs - engineMs)
    }

    // 3. Throughput, `SLOTS` requests in flight: through the daemon, and the same engine
    // (model, slots, threads) in this process. Rounds alternate so drifting machine load hits
    // both alike; the daemon sits idle while the in-process engine runs.
    const engine = await createLlamaCppEngine({ logger }, { modelsDir: models.dir, models: [MODEL], slots: SLOTS, threads: 1 })
    await engine.complete({ model: MODEL, prompt: prompt(0), maxTokens: 8, temperature: 0 })
    const tokensPerSecond = async (run: (i: number) => Promise<number>): Promise<number> => {
      const started = performance.now()
      const tokens = (await runConcurrently(requests, SLOTS, run)).reduce((sum, n) => sum + n, 0)
      return tokens / ((performance.now() - started) / 1000)
    }
    const daemonRuns: number[] = []
    const directRuns: number[] = []
    for (let round = 0; round < 3; round++) {
      daemonRuns.push(await tokensPerSecond(async i => (await send(i, maxTokens)).completionTokens))
      directRuns.push(await tokensPerSecond(async i => (await engine.complete({ model: MODEL, prompt: prompt(i), maxTokens, temperature: 0 })).usage.completionTokens))
    }
    await engine.close()
    await node.stop()

    const daemonTps = median(daemonRuns)
    const directTps = median(directRuns)
    printTable([
      { metric: 'start → advertised (median of 3)', value: `${median(startTimes).toFixed(0)} ms`, target: '≤ 3000 ms', detail: startTimes.map(t => t.toFixed(0)).join(', ') },
      { metric: 'protocol overhead per task (median)', value: `${median(overheads).toFixed(2)} ms`, target: '≤ 5 ms', detail: `p90 ${percentile(overheads, 90).toFixed(2)} ms, ${overheads.length} tasks` },
      { metric: 'engine in-process (baseline)', value: `${directTps.toFixed(0)} tok/s`, target: '', detail: `median of ${directRuns.map(t => t.toFixed(0)).join(', ')}; ${requests} req × ${maxTokens} max tokens, ${SLOTS} slots, 1 thread` },
      { metric: 'through the daemon', value: `${daemonTps.toFixed(0)} tok/s`, target: '', detail: `median of ${daemonRuns.map(t => t.toFixed(0)).join(', ')}` },
      { metric: 'daemon / in-process', value: (daemonTps / directTps).toFixed(3), target: '≥ 0.9', detail: '' }
    ])
  } finally {
    await bootstrap.stop()
    await dir.remove()
  }
}
