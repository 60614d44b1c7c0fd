import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDiscovery, createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { createLogger } from '@dria/protocol'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createBatchService } from '../batches/index.js'
import { createFileService, createUploadSlots } from '../files/index.js'
import { createNetworkView } from '../network/index.js'
import { createMetrics } from '../metrics/index.js'
import { createScheduler } from '../scheduler/index.js'
import { openStore } from '../store/index.js'
import { createTrust } from '../trust/index.js'
import type { Store } from '../store/index.js'
import { createWebhookSender } from '../webhooks/index.js'
import { createEventBus, createEventStream } from '../events/index.js'
import { createKeyring } from '../accounts/index.js'
import { buildApp } from './app.js'
import { createNetworkStatus } from './network-status.js'
import { createAuthenticator } from './auth.js'

const MODEL = 'stories260K'
const CHAT = '/v1/chat/completions'

interface Env {
  app: FastifyInstance
  host: DriaHost
  store: Store
  stop: () => Promise<void>
}

/** The real coordinator parts minus the HTTP listener; a libp2p host with no nodes around it. */
async function startEnv (init: { maxFileBytes?: number } = {}): Promise<Env> {
  const logger = createLogger('test')
  const dir = await mkdtemp(join(tmpdir(), 'dria-api-'))
  const store = await openStore(dir)
  const host = await createDriaHost({ listenPort: 0 })
  const discovery = createDiscovery({ host, logger })
  const network = createNetworkView({ host, discovery, peers: store.peers, logger })
  const trust = createTrust({ book: store.trust, logger })
  const metrics = createMetrics({ nodes: () => network.sessions().length, tasksInFlight: () => scheduler.inFlight() })
  const scheduler = createScheduler({ store, network, trust, logger, metrics })
  const maxFileBytes = init.maxFileBytes ?? 1024 * 1024
  const files = createFileService({ store, logger }, { maxFileBytes })
  const webhooks = createWebhookSender({ logger })
  const bus = createEventBus()
  const batches = createBatchService({ store, files, scheduler, network, trust, webhooks, logger, metrics, events: bus })
  const keyring = createKeyring(Buffer.alloc(32, 7))
  const auth = createAuthenticator({ store, keyring }, { staticKeys: ['k1', 'k2'] })
  const status = createNetworkStatus({ host, network, trust, scheduler, bus, metrics })
  const stream = createEventStream({ bus, networkSnapshot: async () => ({ stats: await status.stats(), nodes: status.nodes() }), logger, metrics })
  const app = await buildApp({ host, network, status, stream, files, uploads: createUploadSlots({ store }), batches, scheduler, auth, store, keyring, metrics, logger }, { maxFileBytes, publicUrl: () => 'https://dria.example' })
  stream.start()
  await network.start()
  await auth.start()
  await files.start()
  await batches.start()
  return {
    app,
    host,
    store,
    async stop () {
      await app.close()
      await batches.stop()
      webhooks.stop()
      network.stop()
      await host.stop()
      await store.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })

/** A multipart/form-data body serialized by the platform's own FormData, fields in the given order. */
async function multipart (fields: Array<[string, string] | [string, Buffer | string, string]>): Promise<{ payload: Buffer, headers: Record<string, string> }> {
  const form = new FormData()
  for (const field of fields) {
    if (field.length === 3) form.append(field[0], new Blob([field[1]]), field[2])
    else form.append(field[0], field[1])
  }
  const response = new Response(form)
  return { payload: Buffer.from(await response.arrayBuffer()), headers: { 'content-type': response.headers.get('content-type') ?? '' } }
}

function chatLine (customId: string, model = MODEL): string {
  return JSON.stringify({ custom_id: customId, method: 'POST', url: CHAT, body: { model, messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 8 } })
}

function expectError (res: LightMyRequestResponse, status: number, code: string, param?: string | null): void {
  expect(res.statusCode, res.body).toBe(status)
  const body = res.json()
  expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: param === undefined ? body.error.param : param, code } })
  expect(body.error.param === null || typeof body.error.param === 'string').toBe(true)
}

describe('coordinator HTTP API', () => {
  let env: Env

  beforeAll(async () => { env = await startEnv() })
  afterAll(async () => { await env?.stop() })

  async function upload (key: string, content: string | Buffer, fields: Array<[string, string] | [string, Buffer | string, string]> | undefined = undefined): Promise<LightMyRequestResponse> {
    const form = await multipart(fields ?? [['purpose', 'batch'], ['file', content, 'input.jsonl']])
    return await env.app.inject({ method: 'POST', url: '/v1/files', headers: { ...auth(key), ...form.headers }, payload: form.payload })
  }

  async function uploadId (key: string, content: string): Promise<string> {
    const res = await upload(key, content)
    expect(res.statusCode, res.body).toBe(200)
    return res.json().id
  }

  async function createBatch (key: string, body: Record<string, unknown>): Promise<LightMyRequestResponse> {
    return await env.app.inject({ method: 'POST', url: '/v1/batches', headers: auth(key), payload: body })
  }

  /** Polls until validation is over (there are no nodes, so nothing gets further than that). */
  async function settled (key: string, id: string): Promise<Record<string, any>> {
    for (let i = 0; i < 200; i++) {
      const res = await env.app.inject({ method: 'GET', url: `/v1/batches/${id}`, headers: auth(key) })
      expect(res.statusCode).toBe(200)
      const batch = res.json()
      if (batch.status !== 'validating') return batch
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    throw new Error(`batch ${id} still validating`)
  }

  describe('health and network', () => {
    it('answers /health without a key', async () => {
      const res = await env.app.inject({ method: 'GET', url: '/health' })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ status: 'ok' })
    })

    it('serves the coordinator peer id and dialable addresses', async () => {
      const res = await env.app.inject({ method: 'GET', url: '/api/v0/network/info' })
      expect(res.statusCode).toBe(200)
      const info = res.json()
      expect(info.peerId).toBe(env.host.peerId.toString())
      expect(info.multiaddrs.length).toBeGreaterThan(0)
      for (const ma of info.multiaddrs) expect(ma).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    })

    it('lists no models when no node is around', async () => {
      const res = await env.app.inject({ method: 'GET', url: '/v1/models', headers: auth('k1') })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ object: 'list', data: [] })
    })

    it('serves Prometheus metrics without a key', async () => {
      const res = await env.app.inject({ method: 'GET', url: '/metrics' })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toContain('text/plain')
      expect(res.body).toMatch(/^dria_network_nodes 0$/m)
      expect(res.body).toMatch(/^dria_scheduler_tasks_in_flight 0$/m)
      expect(res.body).toContain('# TYPE dria_scheduler_task_duration_seconds histogram')
    })

    it('serves the network view without a key', async () => {
      const nodes = await env.app.inject({ method: 'GET', url: '/api/v0/network/nodes' })
      expect(nodes.statusCode).toBe(200)
      expect(nodes.json()).toEqual({ object: 'list', data: [] })
      const stats = await env.app.inject({ method: 'GET', url: '/api/v0/network/stats' })
      expect(stats.statusCode).toBe(200)
      expect(stats.json()).toMatchObject({
        object: 'network.stats',
        nodes: { live: 0, by_trust: { new: 0, trusted: 0, allowlisted: 0, quarantined: 0 } },
        slots: { advertised: 0, in_flight: 0 },
        models: [],
        queue: { depth: 0, by_model: {}, unattributed: 0 },
        verification: { accepted: 0, refused: 0, audits: { agreed: 0, caught: 0, inconclusive: 0, skipped: 0 } },
        history: { interval_seconds: 5, points: [] }
      })
    })

    it('refuses an event stream for a wrong key', async () => {
      for (const headers of [auth('nope'), { 'x-api-key': 'nope' }, { authorization: 'Bearer ' }]) {
        expectError(await env.app.inject({ method: 'GET', url: '/api/v0/events', headers }), 401, 'invalid_api_key', null)
      }
    })

    it('counts HTTP requests by route template, not by path', async () => {
      await env.app.inject({ method: 'GET', url: '/v1/files/file-abc', headers: auth('k1') })
      await env.app.inject({ method: 'GET', url: '/no/such/path' })
      const res = await env.app.inject({ method: 'GET', url: '/metrics' })
      expect(res.body).toMatch(/^dria_http_requests_total\{method="GET",route="\/v1\/files\/:id",status_code="404"\} 1$/m)
      expect(res.body).toMatch(/^dria_http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1$/m)
      expect(res.body).not.toContain('file-abc')
      expect(res.body).toContain('# TYPE dria_http_request_duration_seconds histogram')
      expect(res.body).toContain('# TYPE dria_task_duration_seconds histogram')
      expect(res.body).toContain('# TYPE dria_batch_output_tokens_total counter')
    })

    it('answers unknown routes with a 404 envelope', async () => {
      const res = await env.app.inject({ method: 'GET', url: '/v1/nope', headers: auth('k1') })
      expectError(res, 404, 'not_found', null)
      expect(res.json().error.type).toBe('invalid_request_error')
    })
  })

  describe('authentication', () => {
    it('rejects missing and wrong keys with invalid_api_key', async () => {
      for (const headers of [{}, auth('nope'), { 'x-api-key': 'nope' }, { authorization: 'Bearer ' }, { authorization: 'k1' }]) {
        for (const [method, url] of [['GET', '/v1/files'], ['GET', '/v1/batches'], ['GET', '/v1/models'], ['GET', '/v1/files/file-x/content']] as const) {
          const res = await env.app.inject({ method, url, headers })
          expectError(res, 401, 'invalid_api_key', null)
          expect(res.json().error.type).toBe('authentication_error')
        }
      }
      const res = await upload('nope', 'x')
      expectError(res, 401, 'invalid_api_key', null)
    })

    it('accepts Bearer and x-api-key', async () => {
      expect((await env.app.inject({ method: 'GET', url: '/v1/files', headers: auth('k1') })).statusCode).toBe(200)
      expect((await env.app.inject({ method: 'GET', url: '/v1/files', headers: { 'x-api-key': 'k2' } })).statusCode).toBe(200)
    })
  })

  describe('files', () => {
    it('uploads with purpose before or after the file part', async () => {
      const content = `${chatLine('a')}\n${chatLine('b')}\n`
      for (const fields of [
        [['purpose', 'batch'], ['file', content, 'first.jsonl']],
        [['file', content, 'second.jsonl'], ['purpose', 'batch']]
      ] as Array<Array<[string, string] | [string, string, string]>>) {
        const res = await upload('k1', content, fields)
        expect(res.statusCode, res.body).toBe(200)
        expect(res.json()).toEqual({
          id: expect.stringMatching(/^file-/),
          object: 'file',
          bytes: Buffer.byteLength(content),
          created_at: expect.any(Number),
          filename: fields[0][0] === 'file' ? 'second.jsonl' : 'first.jsonl',
          purpose: 'batch',
          status: 'processed',
          expires_at: null,
          status_details: null
        })
        expect(Math.abs(res.json().created_at - Date.now() / 1000)).toBeLessThan(60)
      }
    })

    it('rejects uploads missing purpose or file, or with a bad purpose, and keeps no body', async () => {
      const before = await readdir(env.store.filesDir)
      expectError(await upload('k1', 'x', [['file', 'x', 'a.jsonl']]), 400, 'missing_required_parameter', 'purpose')
      expectError(await upload('k1', 'x', [['purpose', 'batch']]), 400, 'missing_required_parameter', 'file')
      expectError(await upload('k1', 'x', [['purpose', 'fine-tune'], ['file', 'x', 'a.jsonl']]), 400, 'invalid_value', 'purpose')
      expectError(await upload('k1', 'x', [['file', 'x', 'a.jsonl'], ['purpose', 'assistants']]), 400, 'invalid_value', 'purpose')
      // Not JSONL at all: refused at upload.
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', '', 'a.jsonl']]), 400, 'empty_file', 'file')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', ' \n\n', 'a.jsonl']]), 400, 'empty_file', 'file')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', 'hello\nworld\n', 'a.jsonl']]), 400, 'invalid_file_format', 'file')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', Buffer.from(chatLine('a'), 'utf16le'), 'a.jsonl']]), 400, 'invalid_encoding', 'file')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', chatLine('a'), 'a.jsonl'], ['expires_after[anchor]', 'created_at'], ['expires_after[seconds]', '60']]), 400, 'integer_below_min_value', 'expires_after.seconds')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', chatLine('a'), 'a.jsonl'], ['expires_after[anchor]', 'last_active_at'], ['expires_after[seconds]', '3600']]), 400, 'invalid_value', 'expires_after.anchor')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['file', 'x', 'a.jsonl'], ['file', 'y', 'b.jsonl']]), 400, 'invalid_request_error', 'file')
      expectError(await upload('k1', 'x', [['purpose', 'batch'], ['document', 'x', 'a.jsonl']]), 400, 'invalid_request_error', 'file')
      const json = await env.app.inject({ method: 'POST', url: '/v1/files', headers: auth('k1'), payload: { purpose: 'batch' } })
      expect(json.statusCode).toBe(400)
      expect(json.json().error.code).toBe('invalid_request_error')
      // Malformed multipart bodies are the client's error, not the server's.
      const form = (await multipart([['purpose', 'batch'], ['file', chatLine('a'), 'a.jsonl']]))
      for (const [type, payload] of [
        ['multipart/form-data', form.payload],
        ['multipart/form-data; boundary=not-the-boundary', form.payload],
        [form.headers['content-type'], form.payload.subarray(0, form.payload.length - 20)]
      ] as const) {
        expectError(await env.app.inject({ method: 'POST', url: '/v1/files', headers: { ...auth('k1'), 'content-type': type }, payload }), 400, 'invalid_multipart')
      }
      expect(await readdir(env.store.filesDir)).toEqual(before)
    })

    it('retrieves metadata and byte-identical content, deletes, then 404s', async () => {
      // Bytes that a text round trip would alter: CRLF, a BOM, invalid UTF-8, a NUL.
      const content = Buffer.concat([Buffer.from('\ufeff'), Buffer.from(`${chatLine('a')}\r\n`), Buffer.from([0xff, 0x00, 0xfe]), Buffer.from('\n')])
      const res = await upload('k1', content)
      expect(res.statusCode).toBe(200)
      const file = res.json()

      const meta = await env.app.inject({ method: 'GET', url: `/v1/files/${file.id}`, headers: auth('k1') })
      expect(meta.json()).toEqual(file)

      const body = await env.app.inject({ method: 'GET', url: `/v1/files/${file.id}/content`, headers: auth('k1') })
      expect(body.statusCode).toBe(200)
      expect(body.rawPayload.equals(content)).toBe(true)
      expect(body.headers['content-length']).toBe(String(content.length))
      expect(body.headers['content-disposition']).toBe('attachment; filename="input.jsonl"; filename*=UTF-8\'\'input.jsonl')

      const deleted = await env.app.inject({ method: 'DELETE', url: `/v1/files/${file.id}`, headers: auth('k1') })
      expect(deleted.json()).toEqual({ id: file.id, object: 'file', deleted: true })
      expect(await readdir(env.store.filesDir)).not.toContain(file.id)

      expectError(await env.app.inject({ method: 'GET', url: `/v1/files/${file.id}`, headers: auth('k1') }), 404, 'file_not_found')
      expectError(await env.app.inject({ method: 'GET', url: `/v1/files/${file.id}/content`, headers: auth('k1') }), 404, 'file_not_found')
      expectError(await env.app.inject({ method: 'DELETE', url: `/v1/files/${file.id}`, headers: auth('k1') }), 404, 'file_not_found')
    })

    it('serves content of files with any name, stripped of control characters and capped', async () => {
      const line = chatLine('a')
      for (const [name, kept] of [['データ.jsonl', 'データ.jsonl'], ["it's (1) *.jsonl", "it's (1) *.jsonl"], ['tab\tname\u0000\u202e.jsonl', 'tabname.jsonl'], ['\u0007\u0008', 'upload.jsonl'], ['x'.repeat(300), 'x'.repeat(255)]]) {
        const res = await upload('k1', line, [['purpose', 'batch'], ['file', line, name]])
        expect(res.statusCode, res.body).toBe(200)
        expect(res.json().filename).toBe(kept)
        const body = await env.app.inject({ method: 'GET', url: `/v1/files/${res.json().id as string}/content`, headers: auth('k1') })
        expect(body.statusCode, body.body).toBe(200)
        expect(body.body).toBe(line)
        const disposition = body.headers['content-disposition'] as string
        expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[\x21-\x7e]+$/)
        expect(decodeURIComponent(disposition.slice(disposition.indexOf("''") + 2))).toBe(kept)
      }
    })

    it('keeps expires_after and stops serving a file once it expired', async () => {
      const res = await upload('k1', chatLine('a'), [['purpose', 'batch'], ['file', chatLine('a'), 'e.jsonl'], ['expires_after[anchor]', 'created_at'], ['expires_after[seconds]', '3600']])
      expect(res.statusCode, res.body).toBe(200)
      const file = res.json()
      expect(file.expires_at).toBe(file.created_at + 3600)
      await env.store.files.put({ ...(await env.store.files.get(file.id))!, expires_at: 1 })
      expectError(await env.app.inject({ method: 'GET', url: `/v1/files/${file.id as string}`, headers: auth('k1') }), 404, 'file_not_found')
    })

    it('hides one key\'s files from another', async () => {
      const id = await uploadId('k1', chatLine('a'))
      for (const [method, url] of [['GET', `/v1/files/${id}`], ['GET', `/v1/files/${id}/content`], ['DELETE', `/v1/files/${id}`]] as const) {
        expectError(await env.app.inject({ method, url, headers: auth('k2') }), 404, 'file_not_found')
      }
      const list = await env.app.inject({ method: 'GET', url: '/v1/files', headers: auth('k2') })
      expect(list.json().data.map((f: { id: string }) => f.id)).not.toContain(id)
      // A batch on someone else's file fails exactly as one on an unknown file.
      const other = await createBatch('k2', { input_file_id: id, endpoint: CHAT, completion_window: '24h' })
      expect(other.statusCode).toBe(200)
      expect(other.json()).toMatchObject({ status: 'failed', errors: { data: [{ code: 'invalid_request', message: `Cannot find file ${id}.`, line: null }] } })
      // Still there for its owner.
      expect((await env.app.inject({ method: 'GET', url: `/v1/files/${id}`, headers: auth('k1') })).statusCode).toBe(200)
    })

    it('lists with limit, after, order and has_more; first_id and last_id always present', async () => {
      // k2 has no files yet: an empty page still carries every field.
      const empty = await env.app.inject({ method: 'GET', url: '/v1/files', headers: auth('k2') })
      expect(empty.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false })

      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push(await uploadId('k2', chatLine(`l${i}`)))
      const list = async (query: string): Promise<Record<string, any>> => (await env.app.inject({ method: 'GET', url: `/v1/files?${query}`, headers: auth('k2') })).json()

      const all = await list('')
      expect(all.data.map((f: { id: string }) => f.id)).toEqual([...ids].reverse())
      expect(all).toMatchObject({ first_id: ids[4], last_id: ids[0], has_more: false })

      const asc = await list('order=asc&limit=2')
      expect(asc).toEqual({ object: 'list', data: [expect.objectContaining({ id: ids[0] }), expect.objectContaining({ id: ids[1] })], first_id: ids[0], last_id: ids[1], has_more: true })
      const next = await list(`order=asc&limit=2&after=${asc.last_id as string}`)
      expect(next).toMatchObject({ first_id: ids[2], last_id: ids[3], has_more: true })
      const last = await list(`order=asc&limit=2&after=${next.last_id as string}`)
      expect(last).toMatchObject({ first_id: ids[4], last_id: ids[4], has_more: false })

      const desc = await list(`limit=3&after=${ids[4]}`)
      expect(desc.data.map((f: { id: string }) => f.id)).toEqual([ids[3], ids[2], ids[1]])
      expect(desc.has_more).toBe(true)

      expect(await list('purpose=batch_output')).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false })
      expectError(await env.app.inject({ method: 'GET', url: '/v1/files?limit=0', headers: auth('k2') }), 400, 'integer_below_min_value', 'limit')
      expectError(await env.app.inject({ method: 'GET', url: '/v1/files?order=sideways', headers: auth('k2') }), 400, 'invalid_value', 'order')
    })
  })

  describe('file validation (dry run)', () => {
    const validate = async (key: string, id: string, body: Record<string, unknown>): Promise<LightMyRequestResponse> =>
      await env.app.inject({ method: 'POST', url: `/api/v0/files/${id}/validate`, headers: auth(key), payload: body })

    it('reports every bad line with its number and starts nothing', async () => {
      const id = await uploadId('k1', `${chatLine('a')}\n{not json\n\n${chatLine('a')}\n`)
      const res = await validate('k1', id, { endpoint: CHAT })
      expect(res.statusCode, res.body).toBe(200)
      const result = res.json()
      expect(result).toMatchObject({ object: 'file.validation', file_id: id, valid: false, lines: 3, requests: 0, error_count: 3 })
      // No node serves the model here, so line 1 fails too.
      expect(result.errors.map((e: { line: number, code: string }) => [e.line, e.code])).toEqual([[1, 'model_not_found'], [2, 'invalid_json_line'], [4, 'model_not_found']])
      const batches = await env.app.inject({ method: 'GET', url: '/v1/batches', headers: auth('k1') })
      expect(batches.json().data.filter((b: { input_file_id: string }) => b.input_file_id === id)).toEqual([])
    })

    it('never sees an empty file: the upload is refused', async () => {
      expectError(await upload('k1', '\n\n'), 400, 'empty_file', 'file')
    })

    it('refuses bad requests with codes', async () => {
      const id = await uploadId('k1', `${chatLine('a')}\n`)
      expectError(await validate('k1', id, { endpoint: '/v1/nope' }), 400, 'invalid_endpoint', 'endpoint')
      expectError(await validate('k1', id, {}), 400, 'missing_required_parameter', 'endpoint')
      expectError(await validate('k1', id, { endpoint: CHAT, extra: 1 }), 400, 'unknown_parameter', 'extra')
      expectError(await validate('k2', id, { endpoint: CHAT }), 404, 'file_not_found', null)
      expectError(await validate('nope', id, { endpoint: CHAT }), 401, 'invalid_api_key', null)
    })
  })

  it('refuses key usage without the admin token', async () => {
    expectError(await env.app.inject({ method: 'GET', url: '/admin/usage', headers: auth('k1') }), 401, 'invalid_admin_token', null)
  })

  describe('batches', () => {
    let fileId: string

    beforeAll(async () => { fileId = await uploadId('k1', `${chatLine('a')}\n`) })

    it('validates the create request', async () => {
      const valid = { input_file_id: fileId, endpoint: CHAT, completion_window: '24h' }
      const endpoint = await createBatch('k1', { ...valid, endpoint: '/v1/images/generations' })
      expectError(endpoint, 400, 'invalid_value', 'endpoint')
      expect(endpoint.json().error.message).toBe("Invalid value: '/v1/images/generations'. Supported values are: '/v1/chat/completions', '/v1/completions', and '/v1/embeddings'.")
      const window = await createBatch('k1', { ...valid, completion_window: '48h' })
      expectError(window, 400, 'invalid_value', 'completion_window')
      expect(window.json().error.message).toBe("Invalid value: '48h'. Supported values are: '24h'.")
      const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']))
      expectError(await createBatch('k1', { ...valid, metadata }), 400, 'object_above_max_properties', 'metadata')
      const typed = await createBatch('k1', { ...valid, metadata: { model: 7 } })
      expectError(typed, 400, 'invalid_type', 'metadata.model')
      expect(typed.json().error.message).toBe("Invalid type for 'metadata.model': expected a string, but got an integer instead.")
      expectError(await createBatch('k1', { ...valid, webhook_url: 'not a url' }), 400, 'invalid_webhook_url', 'webhook_url')
      expectError(await createBatch('k1', { ...valid, webhook_url: 'http://example.com/hook' }), 400, 'invalid_webhook_url', 'webhook_url')
      expectError(await createBatch('k1', { ...valid, webhook_url: 'https://127.0.0.1/hook' }), 400, 'invalid_webhook_url', 'webhook_url')
      expectError(await createBatch('k1', { ...valid, webhook_url: 'file:///etc/passwd' }), 400, 'invalid_webhook_url', 'webhook_url')
      expectError(await createBatch('k1', { ...valid, surprise: true }), 400, 'unknown_parameter', 'surprise')
      expectError(await createBatch('k1', { ...valid, output_expires_after: { anchor: 'created_at', seconds: 10 } }), 400, 'integer_below_min_value', 'output_expires_after.seconds')
      expectError(await createBatch('k1', { endpoint: CHAT, completion_window: '24h' }), 400, 'missing_required_parameter', 'input_file_id')
      expectError(await env.app.inject({ method: 'GET', url: '/v1/batches?limit=101', headers: auth('k1') }), 400, 'integer_above_max_value', 'limit')
      // An unknown file makes a batch that fails, as at OpenAI.
      const missing = await createBatch('k1', { ...valid, input_file_id: 'file-missing' })
      expect(missing.statusCode).toBe(200)
      expect(missing.json()).toMatchObject({ status: 'failed', input_file_id: 'file-missing', errors: { data: [{ code: 'invalid_request', message: 'Cannot find file file-missing.', param: 'input_file_id', line: null }] } })
      const broken = await env.app.inject({ method: 'POST', url: '/v1/batches', headers: { ...auth('k1'), 'content-type': 'application/json' }, payload: '{"input_file_id":' })
      expectError(broken, 400, 'invalid_json', null)
      const huge = await env.app.inject({ method: 'POST', url: '/v1/batches', headers: { ...auth('k1'), 'content-type': 'application/json' }, payload: JSON.stringify({ ...valid, pad: 'x'.repeat(2 * 1024 * 1024) }) })
      expectError(huge, 413, 'request_too_large', null)
      expectError(await env.app.inject({ method: 'POST', url: '/v1/batches', headers: { ...auth('k1'), 'content-type': 'text/csv' }, payload: 'a,b' }), 415, 'unsupported_media_type', null)
      expectError(await env.app.inject({ method: 'GET', url: '/v1/batches/batch_missing', headers: auth('k1') }), 404, 'batch_not_found')
      expectError(await env.app.inject({ method: 'POST', url: '/v1/batches/batch_missing/cancel', headers: auth('k1') }), 404, 'batch_not_found')
      expectError(await env.app.inject({ method: 'GET', url: `/v1/batches/batch_${'x'.repeat(5000)}`, headers: auth('k1') }), 404, 'batch_not_found')
      expectError(await env.app.inject({ method: 'GET', url: '/v1/batches/%FF', headers: auth('k1') }), 400, 'invalid_path', null)
    })

    it('accepts the empty JSON body the Python SDK sends on DELETE and cancel, and names every response', async () => {
      const json = { ...auth('k1'), 'content-type': 'application/json' }
      const created = (await createBatch('k1', { input_file_id: fileId, endpoint: CHAT, completion_window: '24h' })).json()
      await settled('k1', created.id)
      const cancel = await env.app.inject({ method: 'POST', url: `/v1/batches/${created.id as string}/cancel`, headers: json, payload: '' })
      expect(cancel.statusCode, cancel.body).toBe(409) // it failed validation: no node serves the model
      expect(cancel.json().error.code).toBe('batch_wrong_status')
      const id = await uploadId('k1', chatLine('d'))
      const deleted = await env.app.inject({ method: 'DELETE', url: `/v1/files/${id}`, headers: json, payload: '' })
      expect(deleted.json()).toEqual({ id, object: 'file', deleted: true })
      expect(deleted.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/)
      expect(cancel.headers['x-request-id']).not.toBe(deleted.headers['x-request-id'])
      // An empty body is still no body where one is required.
      expectError(await env.app.inject({ method: 'POST', url: '/v1/batches', headers: json, payload: '' }), 400, 'invalid_type', null)
    })

    it('fails a batch whose lines ask for a model no node serves, naming each line', async () => {
      const content = [chatLine('a', 'no-such-model'), '', chatLine('b', 'other-model'), chatLine('c', 'no-such-model')].join('\n')
      const id = await uploadId('k1', content)
      const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v']))
      const res = await createBatch('k1', { input_file_id: id, endpoint: CHAT, completion_window: '24h', metadata })
      expect(res.statusCode, res.body).toBe(200)
      const created = res.json()
      expect(created).toMatchObject({ object: 'batch', status: 'validating', input_file_id: id, endpoint: CHAT, metadata, errors: null, output_file_id: null })
      expect(created.expires_at - created.created_at).toBe(24 * 3600)

      const batch = await settled('k1', created.id)
      expect(batch).toMatchObject({ status: 'failed', failed_at: expect.any(Number), output_file_id: null, error_file_id: null })
      expect(batch.errors).toEqual({
        object: 'list',
        data: [
          { code: 'model_not_found', message: expect.stringContaining('no-such-model'), param: 'body.model', line: 1 },
          { code: 'model_not_found', message: expect.stringContaining('other-model'), param: 'body.model', line: 3 },
          { code: 'model_not_found', message: expect.stringContaining('no-such-model'), param: 'body.model', line: 4 }
        ],
        total: 3
      })
      expect(batch.errors.data[0].message).toContain('not supported')
      // A failed validation leaves no tasks behind.
      const rows = []
      for await (const row of env.store.tasks.rows(created.id)) rows.push(row)
      expect(rows).toEqual([])
    })

    it('fails a batch with invalid JSON lines at the right line, and refuses to cancel it', async () => {
      const content = ['{"custom_id": "a",', chatLine('b', 'no-such-model'), '[1, 2]', ''].join('\n')
      const id = await uploadId('k1', content)
      const created = (await createBatch('k1', { input_file_id: id, endpoint: CHAT, completion_window: '24h' })).json()
      const batch = await settled('k1', created.id)
      expect(batch.status).toBe('failed')
      expect(batch.errors.data.map((e: { code: string, line: number }) => [e.code, e.line])).toEqual([
        ['invalid_json_line', 1],
        ['model_not_found', 2],
        ['invalid_json_line', 3]
      ])

      const cancel = await env.app.inject({ method: 'POST', url: `/v1/batches/${created.id as string}/cancel`, headers: auth('k1') })
      expectError(cancel, 409, 'batch_wrong_status')
      expect(cancel.headers['x-should-retry']).toBe('false')
      expect((await env.app.inject({ method: 'GET', url: `/v1/batches/${created.id as string}`, headers: auth('k1') })).json().status).toBe('failed')
    })

    it('hides one key\'s batches from another', async () => {
      const created = (await createBatch('k1', { input_file_id: fileId, endpoint: CHAT, completion_window: '24h' })).json()
      await settled('k1', created.id)
      expectError(await env.app.inject({ method: 'GET', url: `/v1/batches/${created.id as string}`, headers: auth('k2') }), 404, 'batch_not_found')
      expectError(await env.app.inject({ method: 'POST', url: `/v1/batches/${created.id as string}/cancel`, headers: auth('k2') }), 404, 'batch_not_found')
      const list = (await env.app.inject({ method: 'GET', url: '/v1/batches', headers: auth('k2') })).json()
      expect(list.data.map((b: { id: string }) => b.id)).not.toContain(created.id)
    })

    it('lists batches newest first, paging with after', async () => {
      const input = await uploadId('k2', chatLine('a', 'no-such-model'))
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const res = await createBatch('k2', { input_file_id: input, endpoint: CHAT, completion_window: '24h' })
        ids.push(res.json().id)
      }
      const newestFirst = [...ids].reverse()
      const list = async (query: string): Promise<Record<string, any>> => (await env.app.inject({ method: 'GET', url: `/v1/batches?${query}`, headers: auth('k2') })).json()

      const page1 = await list('limit=2')
      expect(page1, JSON.stringify(page1)).toMatchObject({ object: 'list', first_id: newestFirst[0], last_id: newestFirst[1], has_more: true })
      expect(page1.data.map((b: { id: string }) => b.id)).toEqual(newestFirst.slice(0, 2))
      expect(page1.data[0]).not.toHaveProperty('owner')
      const page2 = await list(`limit=2&after=${page1.last_id as string}`)
      expect(page2.data.map((b: { id: string }) => b.id)).toEqual(newestFirst.slice(2, 4))
      // k2's older batch (on k1's file, from the files tests) comes last.
      const page3 = await list(`limit=2&after=${page2.last_id as string}`)
      expect(page3).toMatchObject({ first_id: newestFirst[4], has_more: false })
      expect((await list('')).data.map((b: { id: string }) => b.id).slice(0, 5)).toEqual(newestFirst)
      for (const id of ids) await settled('k2', id)
    })
  })
})

describe('coordinator HTTP API with a small upload limit', () => {
  let env: Env | undefined

  afterEach(async () => {
    await env?.stop()
    env = undefined
  })

  it('answers 413 file_too_large and keeps nothing of the upload', async () => {
    env = await startEnv({ maxFileBytes: 1024 })
    const send = async (content: Buffer): Promise<LightMyRequestResponse> => {
      const form = await multipart([['purpose', 'batch'], ['file', content, 'big.jsonl']])
      return await env!.app.inject({ method: 'POST', url: '/v1/files', headers: { ...auth('k1'), ...form.headers }, payload: form.payload })
    }

    const line = (size: number): Buffer => Buffer.from(`{"pad":"${'a'.repeat(size - 11)}"}\n`)
    const big = await send(Buffer.alloc(64 * 1024, 'a'))
    expectError(big, 413, 'file_too_large', null)
    expect(await readdir(env.store.filesDir)).toEqual([])
    const list = await env.app.inject({ method: 'GET', url: '/v1/files', headers: auth('k1') })
    expect(list.json().data).toEqual([])

    // One byte over the limit is still too large; exactly the limit is fine.
    expectError(await send(Buffer.alloc(1025, 'a')), 413, 'file_too_large', null)
    expect(await readdir(env.store.filesDir)).toEqual([])
    const exact = await send(line(1024))
    expect(exact.statusCode, exact.body).toBe(200)
    expect(exact.json().bytes).toBe(1024)
    expect(await readdir(env.store.filesDir)).toEqual([exact.json().id])
  })
})
