/**
 * Scale benchmark (`pnpm bench scale [lines]`):
 * - a 1,000,000-line file uploaded to a real coordinator process, validated and split into
 *   LevelDB tasks; reports time and the process's peak RSS (VmHWM). Baseline: writing the
 *   same file to disk in this process.
 * - assembling the output of a 100,000-line batch from its stored task rows.
 */
import { createWriteStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import { DriaClient } from '@dria/cli'
import { createLogger } from '@dria/protocol'
import { printTable, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import { assembleBatch, createFileService, openStore } from '@dria/coordinator'
import type { BatchRecord, TaskRow } from '@dria/coordinator'

// stories260K from ../shared when it is there, else the generated dria-tiny (numbers then differ).
const models = await testModels()
const MODEL = models.main
const API_KEY = 'bench-key'

async function writeLines (path: string, count: number, line: (i: number) => string): Promise<number> {
  const started = performance.now()
  const out = createWriteStream(path)
  const chunk: string[] = []
  for (let i = 0; i < count; i++) {
    chunk.push(line(i))
    if (chunk.length === 10_000 || i === count - 1) {
      if (!out.write(chunk.join('\n') + '\n')) await once(out, 'drain')
      chunk.length = 0
    }
  }
  out.end()
  await once(out, 'finish')
  return (performance.now() - started) / 1000
}

async function peakRssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
}

async function ingestAtScale (dir: string, lines: number): Promise<Array<Record<string, string | number>>> {
  const input = join(dir, 'big.jsonl')
  const writeSeconds = await writeLines(input, lines, i => JSON.stringify({
    custom_id: `request-${i}`, method: 'POST', url: '/v1/chat/completions',
    body: { model: MODEL, messages: [{ role: 'user', content: `Tell me a story about number ${i}.` }], max_tokens: 16 }
  }))
  const { size } = await stat(input)
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir, 'coordinator'), apiKeys: [API_KEY], args: ['--max-lines', String(lines)] })
  const node = await startNodeProcess({ dataDir: join(dir, 'node'), bootstrap: coordinator.multiaddrs, args: ['--models-dir', models.dir, '--models', MODEL, '--slots', '1'] })
  try {
    const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
    for (let i = 0; i < 100 && (await api.models()).length === 0; i++) await new Promise(resolve => setTimeout(resolve, 100))
    const rssBefore = await peakRssMb(coordinator.child.pid!)
    const uploadStart = performance.now()
    const file = await api.uploadFile(input)
    const uploadSeconds = (performance.now() - uploadStart) / 1000
    const createStart = performance.now()
    const created = await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
    let batch = created
    while (batch.status === 'validating') {
      await new Promise(resolve => setTimeout(resolve, 100))
      batch = await api.getBatch(created.id)
    }
    const splitSeconds = (performance.now() - createStart) / 1000
    if (batch.request_counts.total !== lines) throw new Error(`batch is ${batch.status} with ${batch.request_counts.total} tasks`)
    const peak = await peakRssMb(coordinator.child.pid!)
    const mb = size / 1024 ** 2
    return [
      { step: 'write file in this process (baseline)', lines, seconds: writeSeconds, 'lines/s': lines / writeSeconds, 'MB/s': mb / writeSeconds, 'coordinator peak RSS MB': '' },
      { step: 'upload (multipart, streamed to disk)', lines, seconds: uploadSeconds, 'lines/s': lines / uploadSeconds, 'MB/s': mb / uploadSeconds, 'coordinator peak RSS MB': '' },
      { step: 'validate + split into LevelDB tasks', lines, seconds: splitSeconds, 'lines/s': lines / splitSeconds, 'MB/s': mb / splitSeconds, 'coordinator peak RSS MB': `${peak.toFixed(0)} (idle ${rssBefore.toFixed(0)}; target ≤ 400)` }
    ]
  } finally {
    await Promise.all([node.stop(), coordinator.stop()])
  }
}

async function assembleAtScale (dir: string, lines: number): Promise<Array<Record<string, string | number>>> {
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
    return [{ step: 'assemble output + error files', lines, seconds, 'lines/s': lines / seconds, 'MB/s': '', 'coordinator peak RSS MB': `target ≤ 5 s (${result.outputLines} output, ${result.errorLines} error lines)` }]
  } finally {
    await store.close()
  }
}

export async function main (args: string[] = []): Promise<void> {
  const lines = Number(args[0] ?? 1_000_000)
  const dir = await tempDir('dria-bench-scale-')
  try {
    printTable([...await ingestAtScale(dir.path, lines), ...await assembleAtScale(dir.path, 100_000)])
  } finally {
    await dir.remove()
  }
}
