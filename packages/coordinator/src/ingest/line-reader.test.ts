import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readLineAt, readLines } from './line-reader.js'
import type { LinePosition } from './line-reader.js'

describe('readLines', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-lines-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  async function collect (content: string | Buffer, init: { chunkBytes?: number, maxLineBytes?: number } = {}): Promise<{ lines: Array<[number, string]>, positions: LinePosition[], tooLong: number[], bad: Array<[number, string]>, total: number, bytes: number }> {
    const path = join(dir, 'in.jsonl')
    await writeFile(path, content)
    const lines: Array<[number, string]> = []
    const positions: LinePosition[] = []
    const tooLong: number[] = []
    const bad: Array<[number, string]> = []
    const result = await readLines(path, {
      line: (text, position) => { lines.push([position.line, text]); positions.push(position); return true },
      tooLong: n => { tooLong.push(n); return true },
      badEncoding: (n, found) => { bad.push([n, found]); return true }
    }, init)
    return { lines, positions, tooLong, bad, total: result.lines, bytes: result.bytes }
  }

  it('splits LF and CRLF lines, strips a BOM and keeps multi-byte characters split across reads', async () => {
    const content = '\uFEFFfirst é\r\n\r\nsecond 日本語\nthird 🙂 line'
    for (const chunkBytes of [1, 2, 3, 5, 7, 64 * 1024]) {
      const { lines, total, bytes } = await collect(content, { chunkBytes })
      expect(lines).toEqual([[1, 'first é'], [2, ''], [3, 'second 日本語'], [4, 'third 🙂 line']])
      expect(total).toBe(4)
      expect(bytes).toBe(Buffer.byteLength(content))
    }
  })

  it('gives each line its byte position, and reads a line again from it', async () => {
    const content = 'first é\r\nsecond 日本語\n\nthird'
    const path = join(dir, 'in.jsonl')
    for (const chunkBytes of [1, 3, 1024]) {
      const { positions } = await collect(content, { chunkBytes })
      expect(positions).toEqual([
        { line: 1, offset: 0, length: Buffer.byteLength('first é') },
        { line: 2, offset: Buffer.byteLength('first é\r\n'), length: Buffer.byteLength('second 日本語') },
        { line: 3, offset: Buffer.byteLength('first é\r\nsecond 日本語\n'), length: 0 },
        { line: 4, offset: Buffer.byteLength('first é\r\nsecond 日本語\n\n'), length: 5 }
      ])
      expect(await readLineAt(path, positions[1])).toBe('second 日本語')
      expect(await readLineAt(path, positions[3])).toBe('third')
    }
  })

  it('reports lines that are not UTF-8, wherever reads split them, and UTF-16 files once', async () => {
    const bad = Buffer.concat([Buffer.from('ok é\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\nfine 日本\n'), Buffer.from([0xff]), Buffer.from('\nend')])
    for (const chunkBytes of [1, 2, 5, 1024]) {
      const result = await collect(bad, { chunkBytes })
      expect(result.bad).toEqual([[2, 'utf-8'], [4, 'utf-8']])
      expect(result.lines).toEqual([[1, 'ok é'], [3, 'fine 日本'], [5, 'end']])
    }
    for (const utf16 of [Buffer.from('\uFEFF{"custom_id":"a"}\n{"custom_id":"b"}\n', 'utf16le'), Buffer.from('{"custom_id":"a"}\n', 'utf16le')]) {
      const result = await collect(utf16)
      expect(result.bad).toEqual([[1, 'utf-16']])
      expect(result.lines).toEqual([])
    }
  })

  it('does not report an empty line after a trailing newline', async () => {
    const { lines, total } = await collect('a\nb\n', { chunkBytes: 1 })
    expect(lines).toEqual([[1, 'a'], [2, 'b']])
    expect(total).toBe(2)
  })

  it('skips lines longer than maxLineBytes, within one read or across reads', async () => {
    const content = `ok\n${'x'.repeat(11)}\n${'y'.repeat(10)}\n${'z'.repeat(30)}`
    for (const chunkBytes of [4, 1024]) {
      const { lines, tooLong, total } = await collect(content, { chunkBytes, maxLineBytes: 10 })
      expect(lines).toEqual([[1, 'ok'], [3, 'y'.repeat(10)]])
      expect(tooLong).toEqual([2, 4])
      expect(total).toBe(4)
    }
  })

  it('stops reading when a handler returns false', async () => {
    const path = join(dir, 'in.jsonl')
    await writeFile(path, 'a\nb\nc\n')
    const seen: string[] = []
    const result = await readLines(path, { line: text => { seen.push(text); return text !== 'b' }, tooLong: () => true, badEncoding: () => true }, { chunkBytes: 1 })
    expect(seen).toEqual(['a', 'b'])
    expect(result.lines).toBe(2)
  })

  it('rejects with the abort reason when the signal is aborted', async () => {
    const path = join(dir, 'in.jsonl')
    await writeFile(path, 'a\nb\n')
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(readLines(path, { line: () => true, tooLong: () => true, badEncoding: () => true }, { signal: controller.signal })).rejects.toThrow('stop')
  })
})
