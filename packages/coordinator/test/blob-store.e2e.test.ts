import { once } from 'node:events'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { spawnDria, startCoordinatorProcess, startS3Server, tempDir } from '@dria/testkit'
import type { S3Server } from '@dria/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL, errorCode, jsonl, openaiClient, readJsonl, requestLines, sleep, startNetwork, uploadBatchFile, waitForBatch, waitForNodes } from './harness.js'
import type { TestNetwork } from './harness.js'

const API_KEY = 'sk-e2e-blob'
const PREFIX = 'e2e/files'

describe('coordinator with its file bodies in S3', () => {
  let s3: S3Server
  let network: TestNetwork | undefined
  let client: S3Client
  let base: string
  const openai = (): ReturnType<typeof openaiClient> => openaiClient(base, API_KEY)
  const api = async (path: string, init: RequestInit = {}): Promise<Response> => await fetch(`${base}${path}`, {
    ...init,
    headers: { 'x-api-key': API_KEY, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers }
  })

  /** Keys under the coordinator's prefix in the bucket. */
  async function objects (): Promise<string[]> {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'dria', Prefix: `${PREFIX}/` }))
    return (listed.Contents ?? []).map(o => o.Key!.slice(PREFIX.length + 1)).sort()
  }

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['dria'] })
    client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } })
    network = await startNetwork({
      apiKeys: [API_KEY],
      slots: 2,
      coordinatorArgs: ['--blob-store', `s3://dria/${PREFIX}`, '--s3-endpoint', s3.endpoint],
      env: s3.env
    })
    base = network.coordinator.url
    await waitForNodes(openai(), 1)
  }, 120_000)

  afterAll(async () => {
    await network?.stop()
    client?.destroy()
    await s3?.stop()
  })

  it('runs an OpenAI batch whose input and output live in the bucket, not on the coordinator\'s disk', async () => {
    const lines = requestLines(5, '/v1/chat/completions', i => ({ messages: [{ role: 'user', content: `Once upon a time ${i}` }], max_tokens: 12 }))
    const inputId = await uploadBatchFile(openai(), lines)
    expect(await objects()).toContain(inputId)
    const created = await openai().batches.create({ input_file_id: inputId, endpoint: '/v1/chat/completions', completion_window: '24h' })
    const batch = await waitForBatch(openai(), created.id)
    expect(batch.status).toBe('completed')
    expect(batch.request_counts).toMatchObject({ total: 5, completed: 5, failed: 0 })
    expect(await objects()).toContain(batch.output_file_id)
    const output = await readJsonl(openai(), batch.output_file_id)
    expect(output.map(line => line.custom_id).sort()).toEqual(lines.map(line => (line as { custom_id: string }).custom_id).sort())
    expect(output.every(line => line.response.status_code === 200)).toBe(true)
    // Locally only temp files ever existed, and none is left.
    const local = await readdir(join(network!.dir, 'coordinator', 'files'))
    expect(local.filter(name => name.startsWith('file-'))).toEqual([])
    // Deleting a file deletes its body.
    await openai().files.delete(inputId)
    expect(await objects()).not.toContain(inputId)
  })

  it('hands out a pre-signed PUT for Dria uploads, validates the object at complete_upload, and pre-signed GETs for results', async () => {
    const answer = await (await api('/api/v0/file/get_upload_url')).json() as { url: string, id: string }
    expect(answer.url.startsWith(`${s3.endpoint}/dria/${PREFIX}/`)).toBe(true)
    expect(answer.url).toContain('X-Amz-Signature=')
    const lines = Array.from({ length: 3 }, (_, i) => ({ custom_id: `dria-${i}`, type: 'completions', version: 'v1', body: { messages: [{ role: 'user', content: `A cat ${i}` }], max_tokens: 8 } }))
    // The client PUTs straight to the bucket, with no key of the coordinator's.
    const put = await fetch(answer.url, { method: 'PUT', body: jsonl(lines) })
    expect(put.status).toBe(200)
    // A URL signed for one object does not write another.
    const forged = await fetch(answer.url.replace(answer.id, 'file-forged'), { method: 'PUT', body: '{}' })
    expect(forged.status).toBe(403)
    const waiting = await api(`/api/v0/batch/job?file_id=${answer.id}`)
    expect(await waiting.json()).toMatchObject({ file_id: answer.id, status: 'uploaded', batch_id: null })

    const started = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id: answer.id, model: MODEL }) })
    expect(started.status).toBe(200)
    expect(await started.json()).toMatchObject({ file_id: answer.id, status: 'validating' })
    // The upload became the file: stored under its id, the staged object gone.
    const stored = await objects()
    expect(stored).toContain(answer.id)
    expect(stored.filter(key => key.startsWith('staged-'))).toEqual([])

    let job: { status: string, result_url: string | null, error_url: string | null }
    for (let i = 0; ; i++) {
      job = await (await api(`/api/v0/batch/job?file_id=${answer.id}`)).json() as typeof job
      if (job.status === 'completed' || job.status === 'failed' || i > 600) break
      await sleep(100)
    }
    expect(job.status).toBe('completed')
    expect(job.error_url).toBeNull()
    expect(job.result_url!.startsWith(`${s3.endpoint}/dria/${PREFIX}/file-`)).toBe(true)
    const download = await fetch(job.result_url!)
    expect(download.status).toBe(200)
    const results = (await download.text()).trim().split('\n').map(line => JSON.parse(line) as { custom_id: string })
    expect(results.map(r => r.custom_id).sort()).toEqual(['dria-0', 'dria-1', 'dria-2'])
    const signature = new URL(job.result_url!).searchParams.get('X-Amz-Signature')!
    const tampered = await fetch(job.result_url!.replace(signature, `${signature.startsWith('a') ? 'b' : 'a'}${signature.slice(1)}`))
    expect(tampered.status).toBe(403)
  })

  it('answers complete_upload with a coded 400 when nothing was uploaded, and keeps the URL usable', async () => {
    const answer = await (await api('/api/v0/file/get_upload_url')).json() as { url: string, id: string }
    expect((await api(`/api/v0/batch/job?file_id=${answer.id}`)).status).toBe(404)
    const early = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id: answer.id, model: MODEL }) })
    expect(early.status).toBe(400)
    expect(await errorCode(early)).toBe('file_not_uploaded')
    // Not a batch file at all: refused as an upload would be, the URL still usable.
    expect((await fetch(answer.url, { method: 'PUT', body: '' })).status).toBe(200)
    const empty = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id: answer.id, model: MODEL }) })
    expect(empty.status).toBe(400)
    expect(await errorCode(empty)).toBe('empty_file')
    expect((await fetch(answer.url, { method: 'PUT', body: jsonl([{ prompt: 'Tom had a ball.', id: 1 }]) })).status).toBe(200)
    const ok = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id: answer.id, model: MODEL }) })
    expect(ok.status).toBe(200)
    // Someone else's (or an unknown) id stays a 404.
    const unknown = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id: 'file-unknown' }) })
    expect(unknown.status).toBe(404)
  })

  it('answers with a coded 503 while S3 fails, and serves again once it is back', async () => {
    const fileId = await uploadBatchFile(openai(), requestLines(1, '/v1/chat/completions', () => ({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 })))
    let batchId = ''
    s3.failing = true
    try {
      const content = await api(`/v1/files/${fileId}/content`)
      expect(content.status).toBe(503)
      expect(await errorCode(content)).toBe('blob_store_unavailable')
      const form = new FormData()
      form.set('purpose', 'batch')
      form.set('file', new Blob([jsonl([{ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'x' }] } }])]), 'in.jsonl')
      const upload = await fetch(`${base}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${API_KEY}` } })
      expect(upload.status).toBe(503)
      expect(await errorCode(upload)).toBe('blob_store_unavailable')
      const slot = await (await api('/api/v0/file/get_upload_url')).json() as { id: string }
      const complete = await api('/api/v0/batch/complete_upload', { method: 'POST', body: JSON.stringify({ id: slot.id }) })
      expect(complete.status).toBe(503)
      // A batch created meanwhile waits for the store instead of failing.
      batchId = (await openai().batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' })).id
      await network!.coordinator.waitFor('blob store unavailable: batch step retried', { where: line => line.batchId === batchId })
      expect((await openai().batches.retrieve(batchId)).status).toBe('validating')
    } finally {
      s3.failing = false
    }
    const content = await api(`/v1/files/${fileId}/content`)
    expect(content.status).toBe(200)
    const batch = await waitForBatch(openai(), batchId)
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 1, completed: 1, failed: 0 } })
    expect(network!.coordinator.child.exitCode).toBeNull()
  })
})

describe('coordinator with its file bodies in a shared directory', () => {
  it('keeps bodies in the --blob-store dir, not in its data dir, and serves them', async () => {
    const dir = await tempDir('dria-e2e-')
    const shared = join(dir.path, 'shared')
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY], args: ['--blob-store', `dir:${shared}`] })
    try {
      const openai = openaiClient(coordinator.url, API_KEY)
      const lines = requestLines(2, '/v1/chat/completions', () => ({ messages: [{ role: 'user', content: 'Hi' }] }))
      const fileId = await uploadBatchFile(openai, lines)
      expect(await readdir(shared)).toEqual([fileId])
      expect((await readdir(join(dir.path, 'coordinator', 'files'))).filter(name => name.startsWith('file-'))).toEqual([])
      expect(await (await openai.files.content(fileId)).text()).toBe(jsonl(lines))
      await openai.files.delete(fileId)
      expect(await readdir(shared)).toEqual([])
    } finally {
      await coordinator.stop()
      await dir.remove()
    }
  })
})

describe('coordinator start with an unusable blob store', () => {
  it('exits non-zero with a coded reason for a missing bucket', async () => {
    const s3 = await startS3Server({ buckets: [] })
    const dir = await tempDir('dria-e2e-')
    const proc = spawnDria('coordinator', ['start', '--port', '0', '--p2p-port', '0', '--data-dir', dir.path, '--blob-store', 's3://no-such-bucket', '--s3-endpoint', s3.endpoint], { env: s3.env })
    try {
      const failed = await proc.waitFor('coordinator failed to start')
      expect(failed.code).toBe('blob_store_unavailable')
      const [code] = proc.child.exitCode === null ? await once(proc.child, 'exit') : [proc.child.exitCode]
      expect(code).toBe(1)
    } finally {
      await proc.kill()
      await s3.stop()
      await dir.remove()
    }
  })
})
