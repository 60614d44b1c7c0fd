import { isUtf8 } from 'node:buffer'
import { open } from 'node:fs/promises'
import { MAX_LINE_BYTES, READ_CHUNK_BYTES } from './constants.js'

/** Where a line sits in its file: enough to read it again later. */
export interface LinePosition {
  /** 1-based line number. */
  line: number
  /** Byte offset of the line's first byte. */
  offset: number
  /** Bytes of the line, without its line ending. */
  length: number
}

export interface LineHandler {
  /** One line without its line ending (LF or CRLF). Returns false to stop reading. */
  line: (text: string, position: LinePosition) => boolean
  /** A line longer than `maxLineBytes`: it is skipped, not buffered. Returns false to stop reading. */
  tooLong: (lineNumber: number) => boolean
  /**
   * A line that is not valid UTF-8 (`utf-8`), or a file that is UTF-16 (`utf-16`, reported
   * once for line 1). Returns false to stop reading.
   */
  badEncoding: (lineNumber: number, found: 'utf-8' | 'utf-16') => boolean
}

export interface ReadLinesInit {
  /** Longest line (bytes before its LF) handed to `line`. Default 1 MiB. */
  maxLineBytes?: number
  /** Bytes per read. Default 256 KiB. */
  chunkBytes?: number
  signal?: AbortSignal
  /** Awaited after the lines of each read were handled: where callers apply backpressure. */
  afterChunk?: () => Promise<void>
}

export interface ReadLinesResult {
  /** Bytes read (all of the file unless a handler stopped early). */
  bytes: number
  /** Lines seen, blank ones included. */
  lines: number
}

const LF = 0x0a
const CR = 0x0d
const BOM = 0xfeff

/** A UTF-16 byte order mark, or ASCII text with every other byte zero. */
function looksUtf16 (bytes: Buffer): boolean {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) return true
  return bytes.length >= 2 && (bytes[0] === 0 || bytes[1] === 0)
}

/**
 * Splits buffers into lines synchronously. Only a line that spans reads is copied (the read
 * buffer is reused), and never more than `maxLineBytes` of it. UTF-8 is checked once per read
 * for all the lines that lie inside it, and line by line only where that check fails.
 */
class LineSplitter {
  private carry: Buffer[] = []
  private carryBytes = 0
  /** Inside a too-long line: drop bytes until its LF. */
  private skipping = false
  /** Bytes of the file before the current read. */
  private consumed = 0
  lineNumber = 0
  stopped = false

  constructor (private readonly handler: LineHandler, private readonly maxLineBytes: number) {}

  push (chunk: Buffer): void {
    let start = 0
    // Lines that start after this read's first LF and end by its last are checked at once.
    const validFrom = chunk.indexOf(LF) + 1
    const lastLf = chunk.lastIndexOf(LF)
    const checked = validFrom > 0 && isUtf8(chunk.subarray(validFrom, lastLf))
    while (!this.stopped) {
      const lf = chunk.indexOf(LF, start)
      if (lf === -1) {
        this.hold(chunk, start)
        break
      }
      this.lineNumber++
      if (this.skipping) {
        this.skipping = false
      } else if (this.carryBytes + lf - start > this.maxLineBytes) {
        this.stopped = !this.handler.tooLong(this.lineNumber)
      } else {
        this.emit(chunk, start, lf, checked && start >= validFrom)
      }
      this.carry = []
      this.carryBytes = 0
      start = lf + 1
    }
    this.consumed += chunk.length
  }

  /** The last line, when the file does not end with a newline. */
  end (): void {
    if (this.stopped) return
    if (this.skipping) {
      this.lineNumber++
    } else if (this.carryBytes > 0) {
      this.lineNumber++
      this.emit(Buffer.alloc(0), 0, 0, false)
    }
  }

  private hold (chunk: Buffer, start: number): void {
    const bytes = chunk.length - start
    if (this.skipping || bytes === 0) return
    if (this.carryBytes + bytes > this.maxLineBytes) {
      this.carry = []
      this.carryBytes = 0
      this.skipping = true
      this.stopped = !this.handler.tooLong(this.lineNumber + 1)
      return
    }
    this.carry.push(Buffer.from(chunk.subarray(start)))
    this.carryBytes += bytes
  }

  private emit (chunk: Buffer, start: number, end: number, known: boolean): void {
    let buffer = chunk
    let offset = this.consumed + start
    let valid = known
    if (this.carryBytes > 0) {
      offset -= this.carryBytes
      buffer = Buffer.concat([...this.carry, chunk.subarray(start, end)])
      start = 0
      end = buffer.length
      valid = false
    }
    if (end > start && buffer[end - 1] === CR) end--
    if (this.lineNumber === 1 && looksUtf16(buffer.subarray(start, end))) {
      this.stopped = true
      this.handler.badEncoding(1, 'utf-16')
      return
    }
    if (!valid && !isUtf8(buffer.subarray(start, end))) {
      this.stopped = !this.handler.badEncoding(this.lineNumber, 'utf-8')
      return
    }
    let text = buffer.toString('utf8', start, end)
    // A UTF-8 byte order mark some editors write; JSON.parse would reject it.
    if (this.lineNumber === 1 && text.charCodeAt(0) === BOM) text = text.slice(1)
    this.stopped = !this.handler.line(text, { line: this.lineNumber, offset, length: end - start })
  }
}

/**
 * Streams the lines of a file to `handler` with bounded memory: one read buffer plus at most
 * one line. Handlers run synchronously; only reads (and `afterChunk`) are awaited.
 */
export async function readLines (path: string, handler: LineHandler, init: ReadLinesInit = {}): Promise<ReadLinesResult> {
  const chunkBytes = init.chunkBytes ?? READ_CHUNK_BYTES
  const splitter = new LineSplitter(handler, init.maxLineBytes ?? MAX_LINE_BYTES)
  const buffer = Buffer.allocUnsafe(chunkBytes)
  const file = await open(path, 'r')
  let bytes = 0
  try {
    while (!splitter.stopped) {
      init.signal?.throwIfAborted()
      const { bytesRead } = await file.read(buffer, 0, chunkBytes, null)
      if (bytesRead === 0) {
        splitter.end()
        break
      }
      bytes += bytesRead
      splitter.push(buffer.subarray(0, bytesRead))
      await init.afterChunk?.()
    }
  } finally {
    await file.close()
  }
  return { bytes, lines: splitter.lineNumber }
}

/** Reads the line at `position` again (a duplicate candidate being confirmed). */
export async function readLineAt (path: string, position: LinePosition): Promise<string> {
  const file = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(position.length)
    await file.read(buffer, 0, position.length, position.offset)
    const text = buffer.toString('utf8')
    return position.line === 1 && text.charCodeAt(0) === BOM ? text.slice(1) : text
  } finally {
    await file.close()
  }
}
