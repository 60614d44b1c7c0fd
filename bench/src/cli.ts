/**
 * CLI benchmark (`pnpm bench cli [requests] [rounds] [concurrency]`): a coordinator and two nodes as real processes.
 * - Throughput: `dria batch -c 10` (real-time requests) over the prompts vs the same requests
 *   through the Batches API (upload → completed), on the same nodes, rounds alternating.
 * - Real-time overhead: one request at a time through the coordinator's
 *   `/v1/chat/completions` vs the same request sent straight to a node over a libp2p session;
 *   pairs alternate, the median of the per-pair differences is the overhead.
 */
import { spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DriaClient } from '@dria/cli'
import { createDriaHost } from '@dria/p2p'
import { TaskKind } from '@dria/protocol'
import { BINARIES, median, percentile, printTable, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import { directSession } from './direct.js'

// stories260K from ../shared when it is there, else the generated dria-tiny (numbers then differ).
const models = await testModels()
const MODEL = models.main
const SLOTS = 4
const API_KEY = 'bench-key'
const MAX_TOKENS = 64
const OVERHEAD_TOKENS = 8
const prompt = (i: number): string => `Once upon a time, in story number ${i},`
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Runs the real `dria` binary (with `--json`); resolves with its wall time and the run time it reports, in seconds. */
async function runCli (args: string[], env: Record<string, string>): Promise<{ wall: number, run: number }> {
  const started = performance.now()
  const child = spawn(process.execPath, [BINARIES.cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  if (code !== 0) throw new Error(`dria ${args.join(' ')} exited ${code}: ${stderr}`)
  return { wall: (performance.now() - started) / 1000, run: (JSON.parse(stderr) as { seconds: number }).seconds }
}

export async function main (args: string[] = []): Promise<void> {
  const requests = Number(args[0] ?? 200)
  const rounds = Number(args[1] ?? 5)
  const concurrency = Number(args[2] ?? 10)
  const pairs = 60
  const dir = await tempDir('dria-bench-cli-')
  // Every result of a new node is checked by the other; after one passed check a node is
  // trusted and (audit rate 0) no longer checked, so both paths measure scheduling, not audits.
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY], args: ['--audit-rate', '0', '--trust-after', '1'] })
  const nodes = await Promise.all([1, 2].map(async i => await startNodeProcess({
    dataDir: join(dir.path, `node-${i}`),
    bootstrap: coordinator.multiaddrs,
    args: ['--models-dir', models.dir, '--models', MODEL, '--slots', String(SLOTS)]
  })))
  const probe = await createDriaHost({ listenPort: 0 })
  const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY, maxRetries: 0 })
  const env = { DRIA_URL: coordinator.url, DRIA_API_KEY: API_KEY }
  const chat = (i: number, maxTokens: number): { model: string, messages: Array<{ role: 'user', content: string }>, max_tokens: number, temperature: number } =>
    ({ model: MODEL, messages: [{ role: 'user', content: prompt(i) }], max_tokens: maxTokens, temperature: 0 })
  try {
    for (let i = 0; i < 150 && !(await api.models()).some(m => m.nodes === nodes.length); i++) await sleep(100)
    for (let i = 0; i < 100 && !(await api.nodes()).every(n => n.trust.level === 'trusted'); i++) {
      await Promise.all(Array.from({ length: 4 }, async (_, j) => await api.openai.chat.completions.create(chat(i * 4 + j, 8))))
    }

    const input = join(dir.path, 'prompts.jsonl')
    await writeFile(input, Array.from({ length: requests }, (_, i) => JSON.stringify({ id: `p${i}`, prompt: prompt(i) })).join('\n'))
    const batchInput = join(dir.path, 'batch.jsonl')
    await writeFile(batchInput, Array.from({ length: requests }, (_, i) => JSON.stringify({ custom_id: `p${i}`, method: 'POST', url: '/v1/chat/completions', body: chat(i, MAX_TOKENS) })).join('\n'))

    const realtimeRuns: number[] = []
    const processRuns: number[] = []
    const batchRuns: number[] = []
    const tokens: number[] = []
    for (let round = 0; round < rounds; round++) {
      const output = join(dir.path, `realtime-${round}.jsonl`)
      const { wall, run } = await runCli(['batch', input, '-o', output, '-c', String(concurrency), '-m', MODEL, '--max-tokens', String(MAX_TOKENS), '--temperature', '0', '--json'], env)
      const lines = (await readFile(output, 'utf8')).trim().split('\n').map(line => JSON.parse(line) as { tokens?: number, error?: string })
      if (lines.length !== requests || lines.some(line => line.error !== undefined)) throw new Error('the real-time run did not finish every line')
      tokens.push(lines.reduce((sum, line) => sum + (line.tokens ?? 0), 0))
      realtimeRuns.push(requests / run)
      processRuns.push(requests / wall)
      await rm(output)

      const started = performance.now()
      const file = await api.uploadFile(batchInput)
      const created = await api.createBatch({ input_file_id: file.id })
      const batch = await api.waitForBatch(created.id, { intervalMs: 50 })
      if (batch.status !== 'completed' || batch.request_counts.failed > 0) throw new Error(`batch ended ${batch.status} with ${batch.request_counts.failed} failures`)
      batchRuns.push(requests / ((performance.now() - started) / 1000))
    }

    // Overhead: the same short request straight to node 1 and through the coordinator, alternately.
    const session = await directSession(probe, nodes[0])
    const direct = async (i: number): Promise<number> => {
      const started = performance.now()
      const reply = await session.run({
        taskId: `direct-${i}`, attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model: MODEL,
        body: new TextEncoder().encode(JSON.stringify(chat(i, OVERHEAD_TOKENS))), timeoutMs: 60_000
      }, { deadlineMs: 60_000 })
      if (reply.result === undefined || reply.result.error != null) throw new Error('direct task failed')
      return performance.now() - started
    }
    const viaCoordinator = async (i: number): Promise<number> => {
      const started = performance.now()
      await api.openai.chat.completions.create(chat(i, OVERHEAD_TOKENS))
      return performance.now() - started
    }
    for (let i = 0; i < 10; i++) {
      await direct(i)
      await viaCoordinator(i)
    }
    const directMs: number[] = []
    const coordinatorMs: number[] = []
    for (let i = 0; i < pairs; i++) {
      directMs.push(await direct(i))
      coordinatorMs.push(await viaCoordinator(i))
    }
    session.close()
    const differences = coordinatorMs.map((ms, i) => ms - directMs[i])

    const realtime = median(realtimeRuns)
    const whole = median(processRuns)
    const batch = median(batchRuns)
    const list = (values: number[]): string => values.map(v => v.toFixed(1)).join(', ')
    printTable([
      { measurement: 'Batches API (baseline): upload → completed', value: `${batch.toFixed(1)} req/s`, target: '', detail: `median of ${list(batchRuns)}; ${requests} requests × ${MAX_TOKENS} max tokens, 2 nodes × ${SLOTS} slots` },
      { measurement: `dria batch -c ${concurrency} (real-time)`, value: `${realtime.toFixed(1)} req/s`, target: '', detail: `median of ${list(realtimeRuns)}; the run as the CLI times it (models fetched → last line written), ${median(tokens)} tokens per run` },
      { measurement: `dria batch -c ${concurrency} / Batches API`, value: (realtime / batch).toFixed(3), target: '≥ 0.9', detail: `${rounds} alternating rounds` },
      { measurement: 'the same, whole CLI process / Batches API', value: (whole / batch).toFixed(3), target: '', detail: `process start to exit: median of ${list(processRuns)} req/s (Node start-up, SDK load)` },
      { measurement: 'direct node call (baseline)', value: `${median(directMs).toFixed(2)} ms`, target: '', detail: `median of ${pairs}; ${OVERHEAD_TOKENS} tokens, libp2p session straight to a node` },
      { measurement: 'real-time /v1/chat/completions', value: `${median(coordinatorMs).toFixed(2)} ms`, target: '', detail: `median of ${pairs}; official SDK → coordinator → node` },
      { measurement: 'real-time overhead per request', value: `${median(differences).toFixed(2)} ms`, target: '≤ 10 ms', detail: `median of per-pair differences; p90 ${percentile(differences, 90).toFixed(2)} ms` }
    ])
  } finally {
    await probe.stop()
    await Promise.all([...nodes, coordinator].map(async p => await p.stop()))
    await dir.remove()
  }
}
