import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readLines } from './line-reader.js'

describe('readLines', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-lines-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  async function collect (content: string | Buffer, init: { chunkBytes?: number, maxLineBytes?: number } = {}): Promise<{ lines: Array<[number, string]>, tooLong: number[], total: number, bytes: number }> {
    const path = join(dir, 'in.jsonl')
    await writeFile(path, content)
    const lines: Array<[number, string]> = []
    const tooLong: number[] = []
    const result = await readLines(path, {
      line: (text, n) => { lines.push([n, text]); return true },
      tooLong: n => { tooLong.push(n); return true }
    }, init)
    return { lines, tooLong, total: result.lines, bytes: result.bytes }
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
    const result = await readLines(path, { line: text => { seen.push(text); return text !== 'b' }, tooLong: () => true }, { chunkBytes: 1 })
    expect(seen).toEqual(['a', 'b'])
    expect(result.lines).toBe(2)
  })

  it('rejects with the abort reason when the signal is aborted', async () => {
    const path = join(dir, 'in.jsonl')
    await writeFile(path, 'a\nb\n')
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(readLines(path, { line: () => true, tooLong: () => true }, { signal: controller.signal })).rejects.toThrow('stop')
  })
})
