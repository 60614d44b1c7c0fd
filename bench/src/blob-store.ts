import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createWriteStream } from 'node:fs'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createDirBlobStore, createFileService, createS3BlobStore, openStore } from '@dria/coordinator'
import type { BlobStore } from '@dria/coordinator'
import { createLogger } from '@dria/protocol'
import { median, printTable, startS3Server } from '@dria/testkit'

/**
 * File bodies through each blob store: `pnpm bench blob-store [--mib N] [--runs N]`. Each run is
 * its own process (its peak RSS is its own) storing an N-MiB JSONL file as a file, reading it
 * back as a stream and copying it to a local file (what ingest does). The baseline is the
 * directory store on the same disk; the S3 store talks to the testkit S3 server (s3rver on
 * 127.0.0.1, which writes to the same disk), so the ratio is the cost of the S3 path, protocol
 * and server included, not of a real network.
 */

type Mode = 'dir' | 's3'

interface Measurement { storeSeconds: number, readSeconds: number, copySeconds: number, peakRssMb: number }

async function writeFileOf (path: string, mib: number): Promise<void> {
  const out = createWriteStream(path)
  const line = `{"custom_id":"request-x","method":"POST","url":"/v1/chat/completions","body":{"model":"stories260K","messages":[{"role":"user","content":"${'Write a short story. '.repeat(10)}"}]}}\n`
  const chunk = line.repeat(Math.ceil(1024 * 1024 / line.length))
  for (let written = 0; written < mib * 1024 * 1024; written += chunk.length) {
    if (!out.write(chunk)) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { err != null ? reject(err) : resolve() }))
}

async function measure (mode: Mode, source: string, endpoint: string): Promise<Measurement> {
  const dir = await mkdtemp(join(tmpdir(), 'dria-bench-blob-'))
  const store = await openStore(dir)
  const blobs: BlobStore = mode === 'dir' ? createDirBlobStore(join(dir, 'blobs')) : await createS3BlobStore({ bucket: 'dria', prefix: `${Date.now()}/`, endpoint })
  try {
    await blobs.start()
    const files = createFileService({ store, logger: createLogger('bench', 'silent'), blobs })
    const temp = files.tempPath()
    await copyFile(source, temp)
    let start = performance.now()
    const record = await files.adopt('bench', temp, { filename: 'in.jsonl', purpose: 'batch' })
    const storeSeconds = (performance.now() - start) / 1000
    start = performance.now()
    let bytes = 0
    for await (const chunk of (await files.open('bench', record.id)).stream) bytes += (chunk as Buffer).length
    if (bytes !== record.bytes) throw new Error(`read ${bytes} of ${record.bytes} bytes`)
    const readSeconds = (performance.now() - start) / 1000
    start = performance.now()
    const copy = await files.localCopy(record.id)
    const copySeconds = (performance.now() - start) / 1000
    await copy.release()
    await files.delete('bench', record.id)
    return { storeSeconds, readSeconds, copySeconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }
  } finally {
    blobs.stop()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

function option (argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name)
  if (i < 0) return fallback
  const n = Number(argv[i + 1])
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer, got '${argv[i + 1]}'`)
  return n
}

export async function main (argv = process.argv.slice(2)): Promise<void> {
  if (argv[0] === '--run') {
    process.stdout.write(JSON.stringify(await measure(argv[1] as Mode, argv[2], argv[3])))
    return
  }
  const mib = option(argv, '--mib', 256)
  const runs = option(argv, '--runs', 3)
  const dir = await mkdtemp(join(tmpdir(), 'dria-bench-blob-'))
  const s3 = await startS3Server()
  try {
    const source = join(dir, 'input.jsonl')
    await writeFileOf(source, mib)
    const results: Record<Mode, Measurement[]> = { dir: [], s3: [] }
    // Alternated, so both see the same machine load.
    for (let i = 0; i < runs; i++) {
      for (const mode of ['dir', 's3'] as const) {
        // Asynchronously: the S3 server answers from this process.
        const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), '--run', mode, source, s3.endpoint], { encoding: 'utf8', env: { ...process.env, ...s3.env } })
        results[mode].push(JSON.parse(stdout) as Measurement)
      }
    }
    const med = (mode: Mode, key: keyof Measurement): number => median(results[mode].map(m => m[key]))
    const rows = (['dir', 's3'] as const).map(mode => ({
      store: mode === 'dir' ? 'dir (baseline)' : 's3 (testkit server)',
      MiB: mib,
      'store s': med(mode, 'storeSeconds').toFixed(2),
      'read s': med(mode, 'readSeconds').toFixed(2),
      'local copy s': med(mode, 'copySeconds').toFixed(2),
      'peak RSS MB': med(mode, 'peakRssMb').toFixed(0),
      'store+read+copy vs baseline': ((med(mode, 'storeSeconds') + med(mode, 'readSeconds') + med(mode, 'copySeconds')) /
        (med('dir', 'storeSeconds') + med('dir', 'readSeconds') + med('dir', 'copySeconds'))).toFixed(2)
    }))
    process.stdout.write(`${runs} runs each, alternated; medians\n\n`)
    printTable(rows)
  } finally {
    await s3.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main()
}
