/**
 * Scale benchmark (`pnpm bench scale [--lines 10000,100000,1000000,5000000] [--gib 10]`):
 * - for each size, a file of that many request lines uploaded to a fresh coordinator process,
 *   validated and split into LevelDB tasks: upload and validate + split time, lines/s and the
 *   process's peak RSS (VmHWM). Baseline: reading the same file and JSON.parse-ing each line
 *   in this process (machine speed in this run).
 * - with `--gib N`, one 5,000,000-line file padded to N GiB, the same way.
 * - assembling the output of a 100,000-line batch from its stored task rows.
 */
import { createReadStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { DriaClient } from '@dria/cli'
import { createLogger } from '@dria/protocol'
import { printTable, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import { assembleBatch, createFileService, openStore } from '@dria/coordinator'
import type { BatchRecord, TaskRow } from '@dria/coordinator'
import { peakRssMb, sampleRss, upload, writeLines } from './ingest-files.js'

// stories260K from ../shared when it is there, else the generated dria-tiny (numbers then differ).
const models = await testModels()
const MODEL = models.main
const API_KEY = 'bench-key'
const DEFAULT_SIZES = [10_000, 100_000, 1_000_000, 5_000_000]
const MAX_LINES = 5_000_000
/** What the issue asks of validate + split: peak RSS independent of file size, and this speed. */
const TARGET_RSS_MB = 300
const TARGET_LINES_PER_SECOND = 150_000

type Row = Record<string, string | number>

/** The baseline: read the file line by line and JSON.parse each line, here. */
async function parseBaseline (path: string): Promise<number> {
  const started = performance.now()
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) JSON.parse(line)
  return (performance.now() - started) / 1000
}

/** One file through a fresh coordinator: upload, then validate + split until the batch runs. */
async function ingestAtScale (dir: string, lines: number, pad = 0): Promise<Row> {
  const input = join(dir, `input-${lines}-${pad}.jsonl`)
  await writeLines(input, lines, { model: MODEL, pad })
  const { size } = await stat(input)
  const baseline = await parseBaseline(input)
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir, `coordinator-${lines}-${pad}`), apiKeys: [API_KEY], args: ['--max-lines', String(MAX_LINES), '--max-file-bytes', String(16 * 1024 ** 3)] })
  const node = await startNodeProcess({ dataDir: join(dir, `node-${lines}-${pad}`), bootstrap: coordinator.multiaddrs, args: ['--models-dir', models.dir, '--models', MODEL, '--slots', '1'] })
  try {
    const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
    for (let i = 0; i < 100 && (await api.models()).length === 0; i++) await new Promise(resolve => setTimeout(resolve, 100))
    const idle = await peakRssMb(coordinator.child.pid!)
    const sampler = sampleRss(coordinator.child.pid!)
    const uploadStart = performance.now()
    const file = await upload(coordinator.url, API_KEY, input)
    const uploadSeconds = (performance.now() - uploadStart) / 1000
    const created = await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
    const createdAt = Date.now()
    // The coordinator logs each status change with its own timestamp: no polling delay in the time.
    const done = await coordinator.waitFor('batch status', { timeoutMs: 1_800_000, where: line => line.batchId === created.id && line.status !== 'validating' })
    const splitSeconds = ((done.time as number) - createdAt) / 1000
    const batch = await api.getBatch(created.id)
    if (batch.status !== 'in_progress' || batch.request_counts.total !== lines) throw new Error(`batch is ${batch.status} with ${batch.request_counts.total} tasks`)
    const peak = await peakRssMb(coordinator.child.pid!)
    const { anon, file: fileBacked } = sampler.stop()
    const mb = size / 1024 ** 2
    return {
      lines,
      'file MB': mb,
      'baseline parse s': baseline,
      'upload s': uploadSeconds,
      'validate + split s': splitSeconds,
      'lines/s': lines / splitSeconds,
      'vs baseline': `${(splitSeconds / baseline).toFixed(2)}×`,
      'peak RSS MB': `${peak.toFixed(0)} (idle ${idle.toFixed(0)}; anon ${anon.toFixed(0)}, file-backed ${fileBacked.toFixed(0)})`,
      targets: `${peak <= TARGET_RSS_MB ? 'ok' : 'OVER'} ≤ ${TARGET_RSS_MB} MB, ${lines / splitSeconds >= TARGET_LINES_PER_SECOND ? 'ok' : 'UNDER'} ≥ ${TARGET_LINES_PER_SECOND.toLocaleString('en-US')}/s`
    }
  } finally {
    await Promise.all([node.stop(), coordinator.stop()])
    await rm(input, { force: true })
    await rm(join(dir, `coordinator-${lines}-${pad}`), { recursive: true, force: true })
  }
}

async function assembleAtScale (dir: string, lines: number): Promise<Row> {
  const store = await openStore(join(dir, 'assemble'))
  const files = createFileService({ store, logger: createLogger('bench', 'silent') })
  const batchId = 'batch_bench'
  try {
    for (let start = 0; start < lines; start += 1000) {
      const rows: TaskRow[] = []
      for (let index = start; index < Math.min(lines, start + 1000); index++) {
        rows.push({
          batchId, index, line: index + 1, customId: `request-${index}`, kind: 'chat', model: MODEL,
          body: '{}', format: 'openai', attempts: 1,
          ...(index % 50 === 0
            ? { state: 'failed' as const, failure: { code: 'node_failure', message: 'no node could run this request', status: 500 } }
            : { state: 'completed' as const, outcome: { output: JSON.stringify({ text: 'Once upon a time there was a little girl named Lily who loved to play.', finish_reason: 'stop' }), promptTokens: 12, completionTokens: 16, peer: '12D3KooW', modelDigest: 'sha256:270cba', signature: 'c2ln', finishedAt: Date.now() } })
        })
      }
      await store.tasks.insert(rows)
    }
    const batch = { id: batchId } as unknown as BatchRecord
    const started = performance.now()
    const result = await assembleBatch({ store, files }, batch)
    const seconds = (performance.now() - started) / 1000
    await Promise.all([files.discard(result.outputPath), files.discard(result.errorPath)])
    return { step: 'assemble output + error files', lines, seconds, 'lines/s': lines / seconds, note: `target ≤ 5 s (${result.outputLines} output, ${result.errorLines} error lines)` }
  } finally {
    await store.close()
  }
}

function parseArgs (args: string[]): { sizes: number[], gib?: number } {
  let sizes = DEFAULT_SIZES
  let gib: number | undefined
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--lines') sizes = args[++i].split(',').map(Number)
    else if (args[i] === '--gib') gib = Number(args[++i])
    else if (/^\d+$/.test(args[i])) sizes = [Number(args[i])]
    else throw new Error(`unknown argument '${args[i]}' (use --lines a,b,c and --gib n)`)
  }
  if (sizes.some(n => !Number.isInteger(n) || n < 1 || n > MAX_LINES)) throw new Error(`--lines takes integers from 1 to ${MAX_LINES}`)
  return { sizes, gib }
}

export async function main (args: string[] = []): Promise<void> {
  const { sizes, gib } = parseArgs(args)
  const dir = await tempDir('dria-bench-scale-')
  try {
    const rows: Row[] = []
    for (const lines of sizes) rows.push(await ingestAtScale(dir.path, lines))
    // Lines of ~N GiB / 5M bytes each: the size limit and the line limit at once.
    if (gib !== undefined) rows.push(await ingestAtScale(dir.path, MAX_LINES, Math.max(0, Math.floor(gib * 1024 ** 3 / MAX_LINES) - 180)))
    printTable(rows)
    printTable([await assembleAtScale(dir.path, 100_000)])
  } finally {
    await dir.remove()
  }
}
