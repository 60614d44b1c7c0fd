import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readPrompts } from './input.js'

describe('readPrompts', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-input-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  async function file (name: string, text: string): Promise<string> {
    const path = join(dir, name)
    await writeFile(path, text)
    return path
  }

  async function failure (promise: Promise<unknown>): Promise<{ code: string, message: string, exitCode: number }> {
    try {
      await promise
    } catch (err) {
      return err as { code: string, message: string, exitCode: number }
    }
    throw new Error('expected a failure')
  }

  it('reads prompts, ids (default: the line number) and attachments; skips blank lines', async () => {
    const path = await file('ok.jsonl', '{"prompt":"a","id":"x"}\n\n{"prompt":"b"}\r\n{"prompt":"c","id":7,"attachment":"cat.png","extra":true}\n')
    expect(await readPrompts(path)).toEqual([
      { id: 'x', line: 1, prompt: 'a' },
      { id: '3', line: 3, prompt: 'b' },
      { id: '7', line: 4, prompt: 'c', attachment: 'cat.png' }
    ])
  })

  it.each([
    ['{"prompt":', 'not valid JSON'],
    ['[1]', 'expected an object'],
    ['{"id":"a"}', '"prompt" must be a non-empty string'],
    ['{"prompt":"a","id":{}}', '"id" must be'],
    ['{"prompt":"a","attachment":5}', '"attachment" must be']
  ])('refuses %s naming the file and line (exit 2)', async (line, message) => {
    const path = await file('bad.jsonl', `{"prompt":"fine"}\n${line}\n`)
    const err = await failure(readPrompts(path))
    expect(err).toMatchObject({ code: 'INVALID_INPUT', exitCode: 2 })
    expect(err.message).toContain(`${path}:2: ${message}`)
  })

  it('refuses repeated ids, counts further problems, and empty or missing files', async () => {
    const path = await file('dup.jsonl', '{"prompt":"a","id":"1"}\n{"prompt":"b"}\n{"prompt":"c","id":"1"}\n')
    const err = await failure(readPrompts(path))
    expect(err.message).toBe(`${path}:3: id "1" repeats line 1`)
    const many = await failure(readPrompts(await file('many.jsonl', 'x\ny\nz\n')))
    expect(many.message).toMatch(/:1: not valid JSON \(and 2 more\)$/)
    expect(await failure(readPrompts(await file('empty.jsonl', '\n\n')))).toMatchObject({ code: 'EMPTY_INPUT', exitCode: 2 })
    expect(await failure(readPrompts(join(dir, 'none.jsonl')))).toMatchObject({ code: 'INPUT_UNREADABLE', message: `cannot read ${join(dir, 'none.jsonl')}: ENOENT` })
  })
})
