import { createWriteStream } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { usageError } from '../errors.js'

/** A finished line: `{"id","model","output","tokens"}`. */
export interface SuccessLine {
  id: string
  model: string
  /** The generated text, or the parsed object with `--schema`. */
  output: unknown
  /** Generated tokens. */
  tokens: number
}

/** A failed line, in the same stream: `{"id","model","error":"503: no nodes available"}`. */
export interface FailureLine {
  id: string
  model: string | null
  error: string
}

export type ResultLine = SuccessLine | FailureLine

export function isFailure (line: ResultLine): line is FailureLine {
  return 'error' in line
}

export interface ResultSink {
  /** Where results go: a path, or undefined for stdout. */
  readonly path?: string
  write(line: ResultLine): void
  /** Flushes everything written. */
  close(): Promise<void>
}

function isSuccessLine (value: unknown): value is SuccessLine {
  if (typeof value !== 'object' || value === null) return false
  const line = value as Record<string, unknown>
  return typeof line.id === 'string' && 'output' in line && !('error' in line)
}

function isFailureLine (value: unknown): value is FailureLine {
  if (typeof value !== 'object' || value === null) return false
  const line = value as Record<string, unknown>
  return typeof line.id === 'string' && typeof line.error === 'string'
}

/**
 * The ids already finished in an earlier run's output. Failed lines are dropped from the file
 * (they run again) and so is a last line cut short by a crash; anything else that is not a
 * result line means the file is not ours: it is left alone and the run refused.
 */
async function finishedIn (path: string): Promise<Set<string> | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw usageError('OUTPUT_UNREADABLE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const lines = text.split('\n')
  const kept: string[] = []
  const done = new Set<string>()
  for (const [index, raw] of lines.entries()) {
    if (raw.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      value = undefined
    }
    if (isSuccessLine(value)) {
      if (!done.has(value.id)) kept.push(raw)
      done.add(value.id)
    } else if (!isFailureLine(value) && index !== lines.length - 1) {
      throw usageError('OUTPUT_NOT_RESULTS', `${path}:${index + 1} is not a dria batch result line; choose another -o`)
    }
  }
  const rewritten = kept.length === 0 ? '' : `${kept.join('\n')}\n`
  if (rewritten !== text) {
    await writeFile(`${path}.tmp`, rewritten)
    await rename(`${path}.tmp`, path)
  }
  return done
}

function unwritable (path: string, err: unknown): Error {
  return usageError('OUTPUT_UNWRITABLE', `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
}

/** Finished lines reach the file within this long. */
const FLUSH_MS = 50

class FileSink implements ResultSink {
  readonly #stream: WriteStream
  #error: Error | undefined
  #flush: NodeJS.Timeout | undefined

  constructor (readonly path: string) {
    this.#stream = createWriteStream(path, { flags: 'a' })
    this.#stream.on('error', err => { this.#error ??= unwritable(path, err) })
  }

  write (line: ResultLine): void {
    if (this.#error !== undefined) throw this.#error
    // Lines finishing close together go out in one write (a write per line costs more than the request).
    if (this.#flush === undefined) {
      this.#stream.cork()
      this.#flush = setTimeout(() => {
        this.#flush = undefined
        this.#stream.uncork()
      }, FLUSH_MS)
    }
    this.#stream.write(`${JSON.stringify(line)}\n`)
  }

  async close (): Promise<void> {
    if (this.#flush !== undefined) {
      clearTimeout(this.#flush)
      this.#flush = undefined
      this.#stream.uncork()
    }
    if (this.#error === undefined && !this.#stream.writableFinished) {
      this.#stream.end()
      await Promise.race([once(this.#stream, 'finish'), once(this.#stream, 'close')])
    }
    if (this.#error !== undefined) throw this.#error
  }
}

class StdoutSink implements ResultSink {
  #closed = false

  constructor () {
    // A reader that stops early (`| head`) is not an error.
    process.stdout.on('error', () => { this.#closed = true })
  }

  write (line: ResultLine): void {
    if (!this.#closed) process.stdout.write(`${JSON.stringify(line)}\n`)
  }

  async close (): Promise<void> {
    if (this.#closed || process.stdout.writableLength === 0) return
    await once(process.stdout, 'drain')
  }
}

/** Opens the results: appended to `path` after the lines finished before (resume), or stdout. */
export async function openResults (path: string | undefined): Promise<{ sink: ResultSink, done: Set<string> }> {
  if (path === undefined) return { sink: new StdoutSink(), done: new Set() }
  const done = await finishedIn(path) ?? new Set<string>()
  // A path that cannot be written (no such directory, read-only) is a usage error before anything runs.
  await appendFile(path, '').catch(err => { throw unwritable(path, err) })
  return { sink: new FileSink(path), done }
}
