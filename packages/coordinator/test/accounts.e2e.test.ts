import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, errorCode, jsonl, openaiClient, requestLines, startNetwork, uploadBatchFile, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const ADMIN_TOKEN = 'admin-e2e-token'

interface KeyObject { id: string, object: string, name: string, plan: string, created_at: number, prefix: string, key?: string }

describe('admin API keys, plans and limits', () => {
  let network: TestNetwork | undefined
  let base: string
  const admin = async (path: string, init: RequestInit = {}, token = ADMIN_TOKEN): Promise<Response> => await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) }
  })
  const createKey = async (name: string): Promise<KeyObject> => {
    const answer = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name, plan: 'free' }) })
    expect(answer.status).toBe(200)
    return await answer.json() as KeyObject
  }
  /** An OpenAI multipart upload with plain fetch, to see status and headers of refusals. */
  const upload = async (key: string, content: string): Promise<Response> => {
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', new Blob([content]), 'input.jsonl')
    return await fetch(`${base}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } })
  }

  beforeAll(async () => {
    network = await startNetwork({
      coordinatorArgs: ['--plans', JSON.stringify({ free: { tasksPerFile: 5 } })],
      env: { DRIA_ADMIN_TOKEN: ADMIN_TOKEN },
      slots: 2
    })
    base = network.coordinator.url
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
  })

  it('creates keys shown once and lists them without the key or its hash', async () => {
    const created = await createKey('alice')
    expect(created).toMatchObject({ object: 'api_key', name: 'alice', plan: 'free' })
    expect(created.key).toMatch(/^sk-dria-/)
    expect(created.key!.startsWith(created.prefix)).toBe(true)

    const listed = await admin('/admin/keys')
    expect(listed.status).toBe(200)
    const text = await listed.text()
    expect(text).not.toContain(created.key)
    const { data } = JSON.parse(text) as { data: Array<Record<string, unknown>> }
    const entry = data.find(k => k.id === created.id)
    expect(entry).toMatchObject({ name: 'alice', plan: 'free', prefix: created.prefix })
    expect(entry).not.toHaveProperty('key')
    expect(entry).not.toHaveProperty('hash')
  })

  it('refuses a wrong admin token, and API keys on the admin API', async () => {
    for (const token of ['wrong-token', 'sk-dria-not-admin']) {
      const answer = await admin('/admin/keys', {}, token)
      expect(answer.status).toBe(401)
      expect(await errorCode(answer)).toBe('invalid_admin_token')
    }
    const { key } = await createKey('not-an-admin')
    expect((await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ name: 'x', plan: 'free' }) }, key)).status).toBe(401)
  })

  it('enforces the free plan: 3 files a day, 5 lines a file; keys see only their own files and batches', async () => {
    const alice = await createKey('alice-limits')
    const bob = await createKey('bob')
    const aliceApi = openaiClient(base, alice.key!)
    const bobApi = openaiClient(base, bob.key!)
    await waitForNodes(aliceApi, 1)

    const sixLines = requestLines(6, '/v1/chat/completions', () => ({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }))
    const tooLong = await uploadBatchFile(aliceApi, sixLines)
    const fiveLines = await uploadBatchFile(aliceApi, sixLines.slice(0, 5))
    const third = await upload(alice.key!, jsonl(sixLines.slice(0, 1)))
    expect(third.status).toBe(200)
    const refused = await upload(alice.key!, jsonl(sixLines.slice(0, 1)))
    expect(refused.status).toBe(429)
    expect(await errorCode(refused)).toBe('too_many_files')
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(24 * 3600)
    // The Dria upload flow counts against the same quota.
    const url = await fetch(`${base}/api/v0/file/get_upload_url`, { headers: { 'x-api-key': alice.key! } })
    expect(url.status).toBe(429)

    let failed = await aliceApi.batches.create({ input_file_id: tooLong, endpoint: '/v1/chat/completions', completion_window: '24h' })
    failed = await waitForBatch(aliceApi, failed.id)
    expect(failed.status).toBe('failed')
    expect(failed.errors?.data?.map(e => [e.line, e.code])).toEqual([[6, 'too_many_lines']])

    const ok = await aliceApi.batches.create({ input_file_id: fiveLines, endpoint: '/v1/chat/completions', completion_window: '24h' })
    expect((await waitForBatch(aliceApi, ok.id)).request_counts).toEqual({ total: 5, completed: 5, failed: 0 })

    // Another key's files and batches do not exist for bob.
    await expect(bobApi.files.retrieve(fiveLines)).rejects.toMatchObject({ status: 404, code: 'file_not_found' })
    await expect(bobApi.files.content(fiveLines)).rejects.toMatchObject({ status: 404 })
    await expect(bobApi.batches.retrieve(ok.id)).rejects.toMatchObject({ status: 404, code: 'batch_not_found' })
    await expect(bobApi.batches.cancel(ok.id)).rejects.toMatchObject({ status: 404, code: 'batch_not_found' })
    // A batch on alice's file fails for bob exactly as one on a file that does not exist.
    const stolen = await bobApi.batches.create({ input_file_id: fiveLines, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const unknown = await bobApi.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' })
    expect(stolen).toMatchObject({ status: 'failed', errors: { data: [{ code: 'invalid_request', message: `Cannot find file ${fiveLines}.` }] } })
    expect(unknown).toMatchObject({ status: 'failed', errors: { data: [{ code: 'invalid_request', message: 'Cannot find file file-nope.' }] } })
    // Dria's flow: alice's file is unknown to bob, and alice's batch id is nowhere in the answers.
    for (const answer of [
      await fetch(`${base}/api/v0/batch/job?file_id=${fiveLines}`, { headers: { 'x-api-key': bob.key! } }),
      await fetch(`${base}/api/v0/batch/complete_upload`, { method: 'POST', headers: { 'x-api-key': bob.key!, 'content-type': 'application/json' }, body: JSON.stringify({ id: fiveLines }) })
    ]) {
      expect(answer.status).toBe(404)
      const text = await answer.text()
      expect(JSON.parse(text).error.code).toBe('file_not_found')
      expect(text).not.toContain(ok.id)
    }
    expect((await bobApi.batches.list()).data.map(b => b.id).sort()).toEqual([stolen.id, unknown.id].sort())
    expect((await bobApi.files.list()).data).toEqual([])
    // Bob's own quota is untouched by alice's uploads.
    expect((await upload(bob.key!, jsonl(sixLines.slice(0, 1)))).status).toBe(200)
    expect((await aliceApi.models.list()).data.map(m => m.id)).toContain(MODEL)
  })

  it('checks the daily quota again when a Dria upload arrives, not only when its URL is handed out', async () => {
    const dave = await createKey('dave')
    const urls: string[] = []
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(`${base}/api/v0/file/get_upload_url`, { headers: { 'x-api-key': dave.key! } })
      expect(answer.status).toBe(200)
      urls.push((await answer.json() as { url: string }).url)
    }
    const line = jsonl([{ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } }])
    const statuses: number[] = []
    for (const url of urls) statuses.push((await fetch(url, { method: 'PUT', body: line })).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    expect((await openaiClient(base, dave.key!).files.list()).data).toHaveLength(3)
  })

  it('revokes a key: it gets 401 from then on', async () => {
    const carol = await createKey('carol')
    const carolApi = openaiClient(base, carol.key!)
    await carolApi.batches.list()

    const deleted = await admin(`/admin/keys/${carol.id}`, { method: 'DELETE' })
    expect(deleted.status).toBe(200)
    expect(await deleted.json()).toEqual({ id: carol.id, object: 'api_key', deleted: true })
    await expect(carolApi.batches.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' })
    const listed = await (await admin('/admin/keys')).json() as { data: KeyObject[] }
    expect(listed.data.map(k => k.id)).not.toContain(carol.id)
    expect((await admin(`/admin/keys/${carol.id}`, { method: 'DELETE' })).status).toBe(404)
  })
})
