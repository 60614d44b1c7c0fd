import { isDriaError } from '@dria/protocol'
import { DEFAULT_MAX_LINES_PER_FILE } from '../constants.js'
import { DEFAULT_MAX_ERRORS, MAX_LINE_BYTES, TASK_CHUNK_SIZE } from './constants.js'
import { createLineParser } from './line-parser.js'
import { readLines } from './line-reader.js'
import type { IngestOptions, IngestSummary, LineError, TaskSpec } from './types.js'

const BLANK = /^\s*$/

/**
 * Validates and normalizes a JSONL batch input file in one streaming pass. Valid lines reach
 * `onTasks` in chunks of about 1,000, each awaited before more of the file is read; after the
 * first invalid line no more tasks are handed out (the caller discards an invalid file's tasks),
 * but every line is still checked so the summary counts all errors. Reading stops at the first
 * line beyond `maxLines`.
 */
export async function ingestFile (path: string, options: IngestOptions, onTasks: (tasks: TaskSpec[]) => Promise<void>): Promise<IngestSummary> {
  const parse = createLineParser(options)
  const maxLines = options.maxLines ?? DEFAULT_MAX_LINES_PER_FILE
  const maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS
  const errors: LineError[] = []
  const models = new Set<string>()
  let errorCount = 0
  let lines = 0
  let tasks = 0
  let pending: TaskSpec[] = []

  function fail (line: number, code: string, message: string, param: string | null): void {
    errorCount++
    pending = []
    if (errors.length < maxErrors) errors.push({ line, code, message, param })
  }

  /** Counts a request line; false (stop reading) when it is one too many. */
  function count (line: number): boolean {
    if (++lines <= maxLines) return true
    fail(line, 'too_many_lines', `The file has more than ${maxLines} requests.`, null)
    return false
  }

  async function handOut (minimum: number): Promise<void> {
    while (pending.length > 0 && pending.length >= minimum) {
      await onTasks(pending.splice(0, TASK_CHUNK_SIZE))
      options.signal?.throwIfAborted()
    }
  }

  const { bytes } = await readLines(path, {
    line (text, line) {
      if (BLANK.test(text)) return true
      if (!count(line)) return false
      let task: TaskSpec
      try {
        task = parse(text, line)
      } catch (err) {
        if (!isDriaError(err)) throw err
        fail(line, err.code, err.message, err.param ?? null)
        return true
      }
      tasks++
      models.add(task.model)
      if (errorCount === 0) pending.push(task)
      return true
    },
    tooLong (line) {
      if (!count(line)) return false
      fail(line, 'line_too_long', `The line is longer than ${MAX_LINE_BYTES} bytes.`, null)
      return true
    }
  }, { signal: options.signal, afterChunk: async () => { await handOut(TASK_CHUNK_SIZE) } })
  await handOut(1)

  return { lines, tasks, errors, errorCount, models: [...models].sort(), bytes }
}
