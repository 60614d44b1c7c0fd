import { readdir } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import type { ClientRequest } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, jsonl, sleep } from '../harness.js'
import { leftovers, printResults, startCluster } from './cluster.js'
import type { Cluster, ResultRow } from './cluster.js'

/**
 * The crash campaign: the coordinator is SIGKILLed in each named phase of a batch's life
 * (upload, Dria PUT, validation, cancel while validating, dispatch, finalizing), restarted on
 * the same data dir, and every batch must still end with each custom_id exactly once in its
 * output or error file, counts that never went backwards, and nothing left on disk.
 */

const KEY = 'sk-crash'
const CHAT = '/v1/chat/completions'
const KILLS_PER_PHASE = 4
/** Lines whose bodies fail their own validation (no inference): large files that split slowly. */
const SLOW_LINES = 60_000
const VALID_LINES = 12

type Batch = { id: string, status: string, request_counts: { total: number, completed: number, failed: number }, output_file_id: string | null, error_file_id: string | null }

const valid = (id: string, maxTokens = 4): Record<string, unknown> =>
  ({ custom_id: id, method: 'POST', url: CHAT, body: { model: MODEL, messages: [{ role: 'user', content: `Once upon a time ${id}` }], max_tokens: maxTokens } })
const invalid = (id: string): Record<string, unknown> =>
  ({ custom_id: id, method: 'POST', url: CHAT, body: { model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 7 } })

/** A large file: a few lines that run, then many whose bodies are invalid. */
function slowFile (prefix: string): { text: string, ids: string[] } {
  const lines = [
    ...Array.from({ length: VALID_LINES }, (_, i) => valid(`${prefix}-ok-${i}`)),
    ...Array.from({ length: SLOW_LINES }, (_, i) => invalid(`${prefix}-bad-${i}`))
  ]
  return { text: jsonl(lines), ids: lines.map(l => l.custom_id as string) }
}

describe('crash campaign', () => {
  let cluster: Cluster
  const rows: ResultRow[] = []
  let kills = 0

  beforeAll(async () => {
    cluster = await startCluster({ apiKeys: [KEY], nodes: 2, slots: 2, args: ['--max-lines', String(SLOW_LINES + VALID_LINES)] })
  }, 120_000)

  afterAll(async () => {
    printResults('crash campaign', rows)
    await cluster?.stop()
  })

  const headers = { authorization: `Bearer ${KEY}` }
  const get = async <T>(path: string): Promise<T> => await (await fetch(`${cluster.url}${path}`, { headers })).json() as T
  const post = async <T>(path: string, body: unknown): Promise<T> =>
    await (await fetch(`${cluster.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as T

  async function upload (text: string): Promise<string> {
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', new Blob([text]), 'input.jsonl')
    const answer = await fetch(`${cluster.url}/v1/files`, { method: 'POST', headers, body: form })
    expect(answer.status).toBe(200)
    return (await answer.json() as { id: string }).id
  }

  const create = async (fileId: string): Promise<Batch> => await post<Batch>('/v1/batches', { input_file_id: fileId, endpoint: CHAT, completion_window: '24h' })
  const batch = async (id: string): Promise<Batch> => await get<Batch>(`/v1/batches/${id}`)

  async function kill (): Promise<void> {
    kills++
    await cluster.kill()
  }

  async function waitUntil (id: string, until: (b: Batch) => boolean, timeoutMs = 180_000): Promise<Batch> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const b = await batch(id)
      if (until(b)) return b
      if (Date.now() > deadline) throw new Error(`batch ${id} is still ${b.status}`)
      await sleep(20)
    }
  }
  const final = async (id: string): Promise<Batch> => await waitUntil(id, b => ['completed', 'failed', 'expired', 'cancelled'].includes(b.status))

  async function lines (fileId: string | null): Promise<Array<{ custom_id: string, error?: { code: string }, response?: { status_code: number } }>> {
    if (fileId === null) return []
    const text = await (await fetch(`${cluster.url}/v1/files/${fileId}/content`, { headers })).text()
    return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l))
  }

  /** How many input ids are missing from (or repeated in) the batch's files; counts must match the files. */
  async function lost (b: Batch, ids: string[]): Promise<number> {
    const [output, errors] = await Promise.all([lines(b.output_file_id), lines(b.error_file_id)])
    const seen = new Map<string, number>()
    for (const line of [...output, ...errors]) seen.set(line.custom_id, (seen.get(line.custom_id) ?? 0) + 1)
    expect(b.request_counts).toEqual({ total: ids.length, completed: output.length, failed: errors.length })
    const expected = new Set(ids)
    return ids.filter(id => seen.get(id) !== 1).length + [...seen.keys()].filter(id => !expected.has(id)).length
  }

  /** Nothing a crash left behind survives a restart: no temp uploads, no body without its file. */
  async function expectClean (): Promise<void> {
    expect(await leftovers(cluster)).toEqual([])
    for (const name of await readdir(join(cluster.dataDir, 'files'))) {
      expect((await fetch(`${cluster.url}/v1/files/${name}`, { headers })).status, name).toBe(200)
    }
  }

  async function tempUploadAppears (): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if ((await leftovers(cluster)).length > 0) return
      await sleep(10)
    }
    throw new Error('the upload never reached the disk')
  }

  /** Starts a request whose body is sent in pieces and never finished: the coordinator dies mid-body. */
  function startSlowBody (url: string, method: string, extraHeaders: Record<string, string>, head: string, body: string): ClientRequest {
    const req = httpRequest(url, { method, headers: extraHeaders })
    req.on('error', () => {}) // the coordinator is killed under it
    req.write(head)
    req.write(body)
    return req
  }

  it(`kills the coordinator ${KILLS_PER_PHASE} times during multipart uploads`, async () => {
    let bad = 0
    for (let i = 0; i < KILLS_PER_PHASE; i++) {
      const boundary = `crash-${i}`
      const before = (await get<{ data: unknown[] }>('/v1/files')).data.length
      const req = startSlowBody(`${cluster.url}/v1/files`, 'POST', { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n`,
        jsonl(Array.from({ length: 20_000 }, (_, n) => valid(`u${i}-${n}`))))
      await tempUploadAppears()
      await kill()
      req.destroy()
      await cluster.start()
      if ((await get<{ data: unknown[] }>('/v1/files')).data.length !== before) bad++
      await expectClean()
    }
    // The upload works once the coordinator is back.
    const id = await upload(jsonl([valid('after-upload')]))
    expect((await get<{ id: string }>(`/v1/files/${id}`)).id).toBe(id)
    rows.push({ area: 'crash', scenario: 'upload (multipart, mid-body)', runs: KILLS_PER_PHASE, checked: 'no partial file listed, temp body swept', lost: bad })
    expect(bad).toBe(0)
  })

  it(`kills the coordinator ${KILLS_PER_PHASE} times during Dria PUTs; the same URL works afterwards`, async () => {
    let bad = 0
    for (let i = 0; i < KILLS_PER_PHASE; i++) {
      const { url, id } = await get<{ url: string, id: string }>('/api/v0/file/get_upload_url')
      const body = jsonl(Array.from({ length: 20 }, (_, n) => valid(`p${i}-${n}`)))
      const req = startSlowBody(url.replace(/^http:\/\/[^/]+/, cluster.url), 'PUT', { 'content-type': 'application/octet-stream' }, '', body + jsonl(Array.from({ length: 20_000 }, (_, n) => valid(`p${i}-pad-${n}`))))
      await tempUploadAppears()
      await kill()
      req.destroy()
      await cluster.start()
      await expectClean()
      // The interrupted upload did not use the URL up.
      const put = await fetch(url.replace(/^http:\/\/[^/]+/, cluster.url), { method: 'PUT', body })
      expect(put.status).toBe(200)
      const job = await post<{ batch_id: string }>('/api/v0/batch/complete_upload', { id })
      const done = await final(job.batch_id)
      expect(done.status).toBe('completed')
      bad += await lost(done, Array.from({ length: 20 }, (_, n) => `p${i}-${n}`))
    }
    rows.push({ area: 'crash', scenario: 'Dria PUT (mid-body), then PUT again to the same URL', runs: KILLS_PER_PHASE, checked: 'URL still usable, batch complete, ids once', lost: bad })
    expect(bad).toBe(0)
  })

  it(`kills the coordinator ${KILLS_PER_PHASE} times while it validates and splits ${SLOW_LINES.toLocaleString('en-US')}-line files`, async () => {
    let bad = 0
    let caught = 0
    for (let attempt = 0; caught < KILLS_PER_PHASE && attempt < KILLS_PER_PHASE * 3; attempt++) {
      const { text, ids } = slowFile(`v${attempt}`)
      const created = await create(await upload(text))
      await sleep(40 + (attempt % KILLS_PER_PHASE) * 50)
      // Killed only while it still validates (a fast machine may be done already: then it runs to the end).
      if ((await batch(created.id)).status === 'validating') {
        caught++
        await kill()
        await cluster.start()
      }
      const done = await final(created.id)
      expect(done.status).toBe('completed')
      bad += await lost(done, ids)
    }
    await expectClean()
    rows.push({ area: 'crash', scenario: `validation + split (${SLOW_LINES.toLocaleString('en-US')} lines)`, runs: caught, checked: 'split finished after restart, ids once', lost: bad })
    expect(caught).toBe(KILLS_PER_PHASE)
    expect(bad).toBe(0)
  })

  it(`kills the coordinator ${KILLS_PER_PHASE} times right after a cancel that came during validation`, async () => {
    let bad = 0
    let caught = 0
    for (let attempt = 0; caught < KILLS_PER_PHASE && attempt < KILLS_PER_PHASE * 3; attempt++) {
      const { text, ids } = slowFile(`c${attempt}`)
      const created = await create(await upload(text))
      await sleep(20 + (attempt % KILLS_PER_PHASE) * 30)
      const cancelling = await post<Batch & { in_progress_at: number | null }>(`/v1/batches/${created.id}/cancel`, {})
      expect(cancelling.status).toBe('cancelling')
      // A cancel that came after validation is an ordinary cancel: not what this phase is about.
      if (cancelling.in_progress_at === null) {
        caught++
        await kill()
        await cluster.start()
      }
      const done = await final(created.id)
      expect(done.status).toBe('cancelled')
      bad += await lost(done, ids)
      // Lines that could run were cancelled (or had run); the others kept their own 400.
      const errors = await lines(done.error_file_id)
      expect(errors.filter(l => l.custom_id.includes('-bad-')).every(l => l.response?.status_code === 400)).toBe(true)
    }
    await expectClean()
    rows.push({ area: 'crash', scenario: 'cancel while validating, then SIGKILL', runs: caught, checked: 'cancelled with every id once (split finished first)', lost: bad })
    expect(caught).toBe(KILLS_PER_PHASE)
    expect(bad).toBe(0)
  })

  it(`kills the coordinator ${KILLS_PER_PHASE} times while tasks run on the nodes; counts never go backwards; the oldest batch resumes first`, async () => {
    const older = Array.from({ length: 80 }, (_, i) => valid(`d-${i}`, 24))
    const newer = Array.from({ length: 12 }, (_, i) => valid(`n-${i}`, 24))
    const a = await create(await upload(jsonl(older)))
    await waitUntil(a.id, x => x.status === 'in_progress')
    const b = await create(await upload(jsonl(newer)))
    let backwards = 0
    let overtaken = 0
    for (let i = 0; i < KILLS_PER_PHASE; i++) {
      const seen = await waitUntil(a.id, x => x.request_counts.completed >= 8 + i * 16)
      await kill()
      await cluster.start()
      const after = await batch(a.id)
      if (after.request_counts.completed < seen.request_counts.completed) backwards++
      // While the older batch still has more work than there are slots, the newer one gets none.
      const newerAtRestart = (await batch(b.id)).request_counts.completed
      for (;;) {
        const [x, y] = await Promise.all([batch(a.id), batch(b.id)])
        if (x.request_counts.completed + x.request_counts.failed >= x.request_counts.total - 4 || i < KILLS_PER_PHASE - 1) break
        if (y.request_counts.completed > newerAtRestart) { overtaken++; break }
        await sleep(20)
      }
    }
    const [doneA, doneB] = [await final(a.id), await final(b.id)]
    const missing = await lost(doneA, older.map(l => l.custom_id as string)) + await lost(doneB, newer.map(l => l.custom_id as string))
    await expectClean()
    rows.push({ area: 'crash', scenario: 'dispatch (tasks in flight on 2 nodes)', runs: KILLS_PER_PHASE, checked: `ids once; counts went backwards ${backwards}×; newer batch ran first ${overtaken}×`, lost: missing })
    expect({ missing, backwards, overtaken }).toEqual({ missing: 0, backwards: 0, overtaken: 0 })
    expect(doneA.request_counts.completed).toBe(older.length)
  })

  it(`kills the coordinator ${KILLS_PER_PHASE} times while it writes the output and error files`, async () => {
    let bad = 0
    let caught = 0
    for (let attempt = 0; caught < KILLS_PER_PHASE && attempt < KILLS_PER_PHASE * 3; attempt++) {
      const lines = Array.from({ length: SLOW_LINES }, (_, n) => invalid(`f${attempt}-${n}`))
      const created = await create(await upload(jsonl(lines)))
      const seen = await waitUntil(created.id, x => x.status === 'finalizing' || x.status === 'completed')
      if (seen.status === 'finalizing') {
        caught++
        await kill()
        await cluster.start()
      }
      const done = await final(created.id)
      expect(done.status).toBe('completed')
      bad += await lost(done, lines.map(l => l.custom_id as string))
    }
    await expectClean()
    rows.push({ area: 'crash', scenario: `finalizing (writing ${SLOW_LINES.toLocaleString('en-US')} error lines)`, runs: caught, checked: 'files written once, no orphan bodies, ids once', lost: bad })
    expect(caught).toBe(KILLS_PER_PHASE)
    expect(bad).toBe(0)
  })

  it('killed the coordinator at least 20 times', () => {
    rows.push({ area: 'crash', scenario: 'total SIGKILLs', runs: kills, checked: 'restarted on the same data dir each time', lost: 0 })
    expect(kills).toBeGreaterThanOrEqual(20)
  })
})
