import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openResults } from './results.js'

describe('results file and resume', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-results-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('appends result lines, one JSON object each', async () => {
    const path = join(dir, 'new.jsonl')
    const { sink, done } = await openResults(path)
    expect(done.size).toBe(0)
    sink.write({ id: 'a', model: 'm', output: 'text\nwith newline', tokens: 3 })
    sink.write({ id: 'b', model: null, error: 'attachment not found: /x.png' })
    await sink.close()
    expect(await readFile(path, 'utf8')).toBe('{"id":"a","model":"m","output":"text\\nwith newline","tokens":3}\n{"id":"b","model":null,"error":"attachment not found: /x.png"}\n')
  })

  it('keeps finished lines, drops failed ones (they run again) and a line cut short by a crash', async () => {
    const path = join(dir, 'resume.jsonl')
    await writeFile(path, [
      '{"id":"a","model":"m","output":"x","tokens":1}',
      '{"id":"b","model":"m","error":"503: no nodes available"}',
      '{"id":"c","model":"m","output":{"k":1},"tokens":2}',
      '{"id":"d","model":"m","outp'
    ].join('\n'))
    const { sink, done } = await openResults(path)
    expect([...done].sort()).toEqual(['a', 'c'])
    sink.write({ id: 'b', model: 'm', output: 'y', tokens: 1 })
    await sink.close()
    expect((await readFile(path, 'utf8')).trim().split('\n').map(l => JSON.parse(l).id)).toEqual(['a', 'c', 'b'])
  })

  it('refuses a file that is not a results file, and leaves it alone', async () => {
    const path = join(dir, 'other.jsonl')
    const text = '{"custom_id":"x"}\n{"id":"a","model":"m","output":"x","tokens":1}\n'
    await writeFile(path, text)
    await expect(openResults(path)).rejects.toMatchObject({ code: 'OUTPUT_NOT_RESULTS', exitCode: 2 })
    expect(await readFile(path, 'utf8')).toBe(text)
  })

  it('refuses a path it cannot write before anything runs', async () => {
    await expect(openResults(join(dir, 'no-such-dir', 'out.jsonl'))).rejects.toMatchObject({ code: 'OUTPUT_UNWRITABLE', exitCode: 2, message: `cannot write ${join(dir, 'no-such-dir', 'out.jsonl')}: ENOENT` })
  })
})
