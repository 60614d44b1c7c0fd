import { execFileSync } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { ingestFile, readLines } from '@dria/coordinator'

/**
 * Ingest throughput: `node packages/bench/dist/ingest.js [--lines N]...`. Each measurement runs in its
 * own process so its peak RSS is its own. The baseline splits the same file with the same
 * line reader and only runs JSON.parse per line: the ratio is the price of validation and
 * normalization.
 */

const ENDPOINT = '/v1/chat/completions'
const DEFAULT_SIZES = [100_000, 1_000_000]

type Mode = 'baseline' | 'ingest'

interface Measurement { lines: number, seconds: number, peakRssMb: number }

async function writeChatFile (path: string, lines: number): Promise<void> {
  const out = createWriteStream(path)
  const batch: string[] = []
  for (let i = 0; i < lines; i++) {
    batch.push(`{"custom_id":"request-${i}","method":"POST","url":"${ENDPOINT}","body":{"model":"stories260K","messages":[{"role":"user","content":"Write a short story about item ${i}."}],"max_tokens":64}}\n`)
    if (batch.length === 10_000 || i === lines - 1) {
      if (!out.write(batch.join(''))) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
      batch.length = 0
    }
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { err != null ? reject(err) : resolve() }))
}

async function measure (mode: Mode, path: string): Promise<Measurement> {
  const start = performance.now()
  let lines = 0
  if (mode === 'baseline') {
    await readLines(path, {
      line: text => { JSON.parse(text); lines++; return true },
      tooLong: () => true,
      badEncoding: () => true
    })
  } else {
    const summary = await ingestFile(path, { endpoint: ENDPOINT, maxLines: Number.MAX_SAFE_INTEGER }, async () => {})
    if (summary.errorCount > 0) throw new Error(`unexpected ingest errors: ${JSON.stringify(summary.errors[0])}`)
    lines = summary.tasks
  }
  const seconds = (performance.now() - start) / 1000
  return { lines, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }
}

function runChild (mode: Mode, path: string): Measurement {
  const stdout = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--run', mode, path], { encoding: 'utf8' })
  return JSON.parse(stdout) as Measurement
}

function parseSizes (argv: string[]): number[] {
  const sizes: number[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--lines') continue
    const n = Number(argv[++i])
    if (!Number.isInteger(n) || n < 1) throw new Error(`--lines needs a positive integer, got '${argv[i]}'`)
    sizes.push(n)
  }
  return sizes.length > 0 ? sizes : DEFAULT_SIZES
}

export async function main (argv = process.argv.slice(2)): Promise<void> {
  if (argv[0] === '--run') {
    process.stdout.write(JSON.stringify(await measure(argv[1] as Mode, argv[2])))
    return
  }
  const dir = await mkdtemp(join(tmpdir(), 'dria-bench-ingest-'))
  try {
    const rows = [['lines', 'run', 'seconds', 'lines/s', 'peak RSS MB', 'time vs baseline']]
    for (const size of parseSizes(argv)) {
      const path = join(dir, `chat-${size}.jsonl`)
      await writeChatFile(path, size)
      const baseline = runChild('baseline', path)
      const ingest = runChild('ingest', path)
      for (const [run, m] of [['baseline', baseline], ['ingest', ingest]] as const) {
        rows.push([
          String(m.lines), run, m.seconds.toFixed(2), Math.round(m.lines / m.seconds).toLocaleString('en-US'),
          m.peakRssMb.toFixed(0), `${(m.seconds / baseline.seconds).toFixed(2)}×`
        ])
      }
      await rm(path)
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map(row => row[c].length)))
    for (const row of rows) console.log(row.map((cell, c) => cell.padStart(widths[c])).join('  '))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main()
}
