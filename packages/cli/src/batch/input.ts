import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { usageError } from '../errors.js'

/** One input line: `{"prompt", "id"?, "attachment"?}`. */
export interface PromptLine {
  /** The line's `id`, or its 1-based line number when it has none. */
  id: string
  /** 1-based line number in the input file. */
  line: number
  prompt: string
  /** A file path (relative to the input file), an http(s) URL or a data URI. */
  attachment?: string
}

function parseLine (text: string, line: number): PromptLine | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return 'not valid JSON'
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected an object {"prompt", "id"?, "attachment"?}'
  const { prompt, id, attachment } = value as Record<string, unknown>
  if (typeof prompt !== 'string' || prompt === '') return '"prompt" must be a non-empty string'
  if (id !== undefined && id !== null && !(typeof id === 'string' && id !== '') && !(typeof id === 'number' && Number.isFinite(id))) return '"id" must be a non-empty string or a number'
  if (attachment !== undefined && attachment !== null && (typeof attachment !== 'string' || attachment === '')) return '"attachment" must be a path, URL or data URI'
  return {
    id: id === undefined || id === null ? String(line) : String(id),
    line,
    prompt,
    ...(typeof attachment === 'string' ? { attachment } : {})
  }
}

/**
 * Reads and checks every line before anything is sent: a malformed line or a repeated id is
 * an input error (exit 2) naming the file and line. Blank lines are skipped.
 */
export async function readPrompts (path: string): Promise<PromptLine[]> {
  const lines: PromptLine[] = []
  const seen = new Map<string, number>()
  const problems: string[] = []
  let number = 0
  try {
    const reader = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })
    for await (const text of reader) {
      number++
      if (text.trim() === '') continue
      const parsed = parseLine(text, number)
      if (typeof parsed === 'string') {
        problems.push(`${path}:${number}: ${parsed}`)
        continue
      }
      const first = seen.get(parsed.id)
      if (first !== undefined) {
        problems.push(`${path}:${number}: id "${parsed.id}" repeats line ${first}`)
        continue
      }
      seen.set(parsed.id, number)
      lines.push(parsed)
    }
  } catch (err) {
    throw usageError('INPUT_UNREADABLE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (problems.length > 0) {
    throw usageError('INVALID_INPUT', problems.length === 1 ? problems[0] : `${problems[0]} (and ${problems.length - 1} more)`)
  }
  if (lines.length === 0) throw usageError('EMPTY_INPUT', `${path} has no prompts`)
  return lines
}
