import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDriaError } from '@dria/protocol'
import { DEFAULT_MAX_LINES_PER_FILE } from '../constants.js'
import { DEFAULT_MAX_ERRORS, MAX_LINE_BYTES, TASK_CHUNK_BYTES, TASK_CHUNK_SIZE } from './constants.js'
import { createIdLedger } from './id-ledger.js'
import { createLineParser } from './line-parser.js'
import { readLineAt, readLines } from './line-reader.js'
import type { IngestOptions, IngestSummary, LineError, TaskSpec } from './types.js'

const BLANK = /^\s*$/

const ENCODING_MESSAGES = {
  'utf-8': 'This line is not valid UTF-8; batch input files must be UTF-8 JSONL.',
  'utf-16': 'The file is encoded as UTF-16; batch input files must be UTF-8 JSONL.'
} as const

/**
 * Validates and normalizes a JSONL batch input file in one streaming pass. Lines reach
 * `onTasks` in chunks of up to 1,000 (or 512 KiB of bodies), each awaited before more of the file is read; a line
 * whose request body is invalid comes with its `failure` (it is answered with a 400, the
 * others run). File-level problems (a line that is not JSON, lacks its custom_id, names another
 * url, repeats an id…) make the file invalid: after the first one no more tasks are handed out
 * (the caller discards an invalid file's tasks), but every line is still checked so the
 * summary counts all errors. Reading stops at the first line beyond `maxLines`. Memory does not
 * grow with the file: duplicate ids are found through scratch files (see createIdLedger).
 */
export async function ingestFile (path: string, options: IngestOptions, onTasks: (tasks: TaskSpec[]) => Promise<void>): Promise<IngestSummary> {
  const parser = createLineParser(options)
  const maxLines = options.maxLines ?? DEFAULT_MAX_LINES_PER_FILE
  const maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS
  const ledger = createIdLedger({ scratchDir: options.scratchDir ?? join(tmpdir(), `dria-ids-${randomBytes(8).toString('hex')}`) })
  let errors: LineError[] = []
  const models = new Set<string>()
  let errorCount = 0
  let lines = 0
  let tasks = 0
  let failed = 0
  let pending: TaskSpec[] = []
  let pendingBytes = 0

  function fail (line: number, code: string, message: string, param: string | null): void {
    errorCount++
    pending = []
    pendingBytes = 0
    if (errors.length < maxErrors) errors.push({ line, code, message, param })
  }

  /** Counts a request line; false (stop reading) when it is one too many. */
  function count (line: number): boolean {
    if (++lines <= maxLines) return true
    fail(line, 'too_many_lines', `The file has more than ${maxLines} requests.`, null)
    return false
  }

  /** Hands out chunks of TASK_CHUNK_SIZE tasks (or TASK_CHUNK_BYTES of bodies); with `all`, the rest too. */
  async function handOut (all: boolean): Promise<void> {
    while (pending.length > 0 && (all || pending.length >= TASK_CHUNK_SIZE || pendingBytes >= TASK_CHUNK_BYTES)) {
      let count = 0
      let bytes = 0
      while (count < pending.length && count < TASK_CHUNK_SIZE && bytes < TASK_CHUNK_BYTES) bytes += pending[count++].body.length
      pendingBytes -= bytes
      await onTasks(pending.splice(0, count))
      options.signal?.throwIfAborted()
    }
  }

  try {
    const { bytes } = await readLines(path, {
      line (text, position) {
        if (BLANK.test(text)) return true
        if (!count(position.line)) return false
        let task: TaskSpec
        try {
          task = parser.parse(text, position.line)
        } catch (err) {
          if (!isDriaError(err)) throw err
          fail(position.line, err.code, err.message, err.param ?? null)
          return true
        }
        ledger.add(task.customId, position)
        if (task.failure === undefined) {
          tasks++
          models.add(task.model)
        } else {
          failed++
        }
        if (errorCount === 0) {
          pending.push(task)
          pendingBytes += task.body.length
        }
        return true
      },
      tooLong (line) {
        if (!count(line)) return false
        fail(line, 'line_too_long', `The line is longer than ${MAX_LINE_BYTES} bytes.`, null)
        return true
      },
      badEncoding (line, found) {
        if (!count(line)) return false
        fail(line, 'invalid_encoding', ENCODING_MESSAGES[found], null)
        return true
      }
    }, {
      signal: options.signal,
      afterChunk: async () => {
        await ledger.flush()
        await handOut(false)
      }
    })
    await handOut(true)

    const { duplicates, count: duplicateCount } = await ledger.duplicates(maxErrors, async (first, later) => {
      const [a, b] = await Promise.all([readLineAt(path, first), readLineAt(path, later)])
      return parser.idOf(a) === parser.idOf(b)
    })
    if (duplicateCount > 0) {
      errorCount += duplicateCount
      errors = [...errors, ...duplicates.map(d => ({
        line: d.line,
        code: 'duplicate_custom_id',
        message: `The custom_id of this line is already used on line ${d.firstLine}.`,
        param: 'custom_id'
      }))].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)).slice(0, maxErrors)
    }
    return { lines, tasks, failed, errors, errorCount, models: [...models].sort(), bytes }
  } finally {
    await ledger.close()
  }
}
