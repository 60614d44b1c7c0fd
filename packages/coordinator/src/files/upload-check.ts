import { DriaError } from '@dria/protocol'
import { readLines } from '../ingest/index.js'

/** Lines of an upload parsed before it is accepted; validation checks every line later. */
const CHECKED_LINES = 100
/** OpenAI's limit on file names is the usual file-system one. */
export const MAX_FILENAME_LENGTH = 255

/**
 * A batch upload is refused at once (a 400) when it cannot be a JSONL batch file at all: it is
 * empty, UTF-16, or none of its first lines is a JSON object. A file with some bad lines is
 * accepted: validation reports each of them by line when a batch is created.
 */
export async function checkBatchUpload (path: string): Promise<void> {
  let seen = 0
  let objects = 0
  let utf16 = false
  await readLines(path, {
    line (text) {
      if (text.trim() === '') return true
      try {
        const value: unknown = JSON.parse(text)
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) objects++
      } catch {}
      return objects === 0 && ++seen < CHECKED_LINES
    },
    tooLong: () => ++seen < CHECKED_LINES,
    badEncoding (_line, found) {
      utf16 = found === 'utf-16'
      return !utf16 && ++seen < CHECKED_LINES
    }
  })
  if (utf16) throw new DriaError('invalid_encoding', 'The file is encoded as UTF-16; batch input files must be UTF-8 JSONL.', { param: 'file' })
  if (seen === 0 && objects === 0) throw new DriaError('empty_file', 'The file is empty: a batch input file needs at least one request line.', { param: 'file' })
  if (objects === 0) throw new DriaError('invalid_file_format', 'The file is not JSONL: none of its first lines is a JSON object. Batch input files have one request object per line.', { param: 'file' })
}

/** Control characters (and bidi overrides that disguise names) removed, length capped. */
export function cleanFilename (name: string, fallback = 'upload.jsonl'): string {
  const cleaned = name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '').trim()
  const capped = [...cleaned].slice(0, MAX_FILENAME_LENGTH).join('')
  return capped === '' ? fallback : capped
}
