import { open } from 'node:fs/promises'
import { MAX_LINE_BYTES, READ_CHUNK_BYTES } from './constants.js'

export interface LineHandler {
  /** One line without its line ending (LF or CRLF). Returns false to stop reading. */
  line: (text: string, lineNumber: number) => boolean
  /** A line longer than `maxLineBytes`: it is skipped, not buffered. Returns false to stop reading. */
  tooLong: (lineNumber: number) => boolean
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

/**
 * Splits buffers into lines synchronously. Only a line that spans reads is copied (the read
 * buffer is reused), and never more than `maxLineBytes` of it.
 */
class LineSplitter {
  private carry: Buffer[] = []
  private carryBytes = 0
  /** Inside a too-long line: drop bytes until its LF. */
  private skipping = false
  lineNumber = 0
  stopped = false

  constructor (private readonly handler: LineHandler, private readonly maxLineBytes: number) {}

  push (chunk: Buffer): void {
    let start = 0
    while (!this.stopped) {
      const lf = chunk.indexOf(LF, start)
      if (lf === -1) {
        this.hold(chunk, start)
        return
      }
      this.lineNumber++
      if (this.skipping) {
        this.skipping = false
      } else if (this.carryBytes + lf - start > this.maxLineBytes) {
        this.stopped = !this.handler.tooLong(this.lineNumber)
      } else {
        this.emit(chunk, start, lf)
      }
      this.carry = []
      this.carryBytes = 0
      start = lf + 1
    }
  }

  /** The last line, when the file does not end with a newline. */
  end (): void {
    if (this.stopped) return
    if (this.skipping) {
      this.lineNumber++
    } else if (this.carryBytes > 0) {
      this.lineNumber++
      this.emit(Buffer.alloc(0), 0, 0)
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

  private emit (chunk: Buffer, start: number, end: number): void {
    let buffer = chunk
    if (this.carryBytes > 0) {
      buffer = Buffer.concat([...this.carry, chunk.subarray(start, end)])
      start = 0
      end = buffer.length
    }
    if (end > start && buffer[end - 1] === CR) end--
    let text = buffer.toString('utf8', start, end)
    // A UTF-8 byte order mark some editors write; JSON.parse would reject it.
    if (this.lineNumber === 1 && text.charCodeAt(0) === BOM) text = text.slice(1)
    this.stopped = !this.handler.line(text, this.lineNumber)
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
