import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, errorCode, jsonl, openaiClient, sleep, startNetwork, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-e2e-dria'

describe('Dria upload flow with x-api-key', () => {
  let network: TestNetwork | undefined
  let base: string
  const api = async (path: string, init: RequestInit = {}): Promise<Response> => await fetch(`${base}${path}`, {
    ...init,
    headers: { 'x-api-key': API_KEY, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers }
  })

  beforeAll(async () => {
    network = await startNetwork({ apiKeys: [API_KEY], slots: 2 })
    base = network.coordinator.url
    await waitForNodes(openaiClient(base, API_KEY), 1)
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
  })

  it('uploads once to a single-use URL, runs the file and returns Dria result lines', async () => {
    const answer = await api('/api/v0/file/get_upload_url')
    expect(answer.status).toBe(200)
    const { url, id } = await answer.json() as { url: string, id: string }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//)
    expect(id).toMatch(/^file-/)

    // Dria lines (the model comes from complete_upload when the body has none) and prompt-only lines.
    const lines = [
      ...Array.from({ length: 4 }, (_, i) => ({
        custom_id: `dria-${i}`, type: 'completions', version: 'v1',
        body: { messages: [{ role: 'user', content: `Once upon a time, ${i}` }], max_tokens: 24 }
      })),
      { custom_id: 'dria-explicit', type: 'completions', version: 'v1', body: { model: MODEL, messages: [{ role: 'user', content: 'A cat' }], max_tokens: 8 } },
      { prompt: 'Tom had a red ball.', id: 1 },
      { prompt: 'Lily went to the park.', id: 'two' }
    ]
    const body = jsonl(lines)
    // The PUT needs no key: the URL carries its own secret.
    const put = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } })
    expect(put.status).toBe(200)
    expect(await put.json()).toEqual({ id, bytes: Buffer.byteLength(body) })
    const second = await fetch(url, { method: 'PUT', body })
    expect(second.status).toBe(404)
    expect(await errorCode(second)).toBe('upload_not_found')

    const uploaded = await api(`/api/v0/batch/job?file_id=${id}`)
    expect(await uploaded.json()).toMatchObject({ file_id: id, status: 'uploaded', batch_id: null })

    const started = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id, model: MODEL }) })
    expect(started.status).toBe(200)
    expect(await started.json()).toMatchObject({ file_id: id, status: 'validating' })
    const twice = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id, model: MODEL }) })
    expect(twice.status).toBe(409)

    let job: { status: string, request_counts: unknown, result_url: string | null, error_url: string | null }
    for (let i = 0; ; i++) {
      job = await (await api(`/api/v0/batch/job?file_id=${id}`)).json() as typeof job
      if (job.status === 'completed' || job.status === 'failed' || i > 600) break
      await sleep(100)
    }
    expect(job.status).toBe('completed')
    expect(job.request_counts).toEqual({ total: lines.length, completed: lines.length, failed: 0 })
    expect(job.error_url).toBeNull()

    // result_url is pre-signed, like an S3 link: a plain GET downloads it, a tampered one is refused.
    expect(job.result_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v0\/files\/file-[^/]+\/download\?expires=\d+&signature=[\w-]+$/)
    const download = await fetch(job.result_url!)
    expect(download.status).toBe(200)
    const signature = new URL(job.result_url!).searchParams.get('signature')!
    const tampered = await fetch(job.result_url!.replace(signature, `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`))
    expect(tampered.status).toBe(403)
    expect(await errorCode(tampered)).toBe('invalid_signature')
    const results = (await download.text()).trim().split('\n').map(line => JSON.parse(line))
    expect(results.map(r => r.custom_id).sort()).toEqual(['1', 'dria-0', 'dria-1', 'dria-2', 'dria-3', 'dria-explicit', 'two'])
    for (const result of results) {
      expect(Object.keys(result).sort()).toEqual(['custom_id', 'model', 'result', 'token_count'])
      expect(result.model).toBe(MODEL)
      expect(typeof result.result).toBe('string')
      expect(result.result.length).toBeGreaterThan(0)
      expect(result.token_count).toBeGreaterThan(0)
    }
    expect(results.find(r => r.custom_id === 'dria-explicit').token_count).toBeLessThanOrEqual(8)
    expect(results.filter(r => r.custom_id.startsWith('dria-')).every(r => r.token_count <= 24)).toBe(true)
  })

  it('refuses the flow without a valid key', async () => {
    const answer = await fetch(`${base}/api/v0/file/get_upload_url`, { headers: { 'x-api-key': 'sk-wrong' } })
    expect(answer.status).toBe(401)
    expect(await errorCode(answer)).toBe('invalid_api_key')
  })

  it('answers an unknown upload id with 404', async () => {
    const job = await api('/api/v0/batch/job?file_id=file-unknown')
    expect(job.status).toBe(404)
    expect(await errorCode(job)).toBe('file_not_found')
    const put = await fetch(`${base}/api/v0/upload/not-a-token`, { method: 'PUT', body: '{}' })
    expect(put.status).toBe(404)
  })
})
