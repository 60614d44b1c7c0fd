import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fastify } from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createDiscovery, createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { createLogger } from '@dria/protocol'
import { createNetworkView } from '../network/index.js'
import { createScheduler } from '../scheduler/index.js'
import { openStore } from '../store/index.js'
import type { Store } from '../store/index.js'
import { createTrust } from '../trust/index.js'
import { createKeyring } from '../accounts/index.js'
import { createAuthenticator } from './auth.js'
import { handleError } from './error-handler.js'
import { registerRealtimeRoutes } from './realtime-routes.js'
import { compileValidator } from './validation.js'

/** The real routes, scheduler and network view, on a libp2p host with no nodes around it. */
describe('real-time endpoints without nodes', () => {
  let app: FastifyInstance
  let host: DriaHost
  let store: Store
  let dir: string

  beforeAll(async () => {
    const logger = createLogger('test', 'silent')
    dir = await mkdtemp(join(tmpdir(), 'dria-realtime-'))
    store = await openStore(dir)
    host = await createDriaHost({ listenPort: 0 })
    const network = createNetworkView({ host, discovery: createDiscovery({ host, logger }), peers: store.peers, logger })
    const trust = createTrust({ book: store.trust, logger })
    const scheduler = createScheduler({ store, network, trust, logger, metrics: null })
    app = fastify()
    app.setValidatorCompiler(compileValidator)
    app.setErrorHandler(handleError)
    const auth = createAuthenticator({ store, keyring: createKeyring(Buffer.alloc(32, 7)) }, { staticKeys: ['k1'] })
    await auth.start()
    registerRealtimeRoutes(app, { scheduler, network, auth })
    app.addHook('onClose', async () => { await scheduler.stop() })
  })

  afterAll(async () => {
    await app?.close()
    await host?.stop()
    await store?.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function post (url: string, payload: unknown, key = 'k1'): Promise<LightMyRequestResponse> {
    return await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}` }, payload: payload as Record<string, unknown> })
  }

  function expectError (res: LightMyRequestResponse, status: number, code: string, param?: string): void {
    expect(res.statusCode, res.body).toBe(status)
    expect(res.json().error).toMatchObject({ code, ...(param === undefined ? {} : { param }) })
  }

  const chat = { model: 'stories260K', messages: [{ role: 'user', content: 'hi' }] }

  it('needs a key', async () => {
    expectError(await post('/v1/chat/completions', chat, 'wrong'), 401, 'invalid_api_key')
  })

  it('answers 503 no_capacity with retry-after when no node serves the model', async () => {
    for (const [url, body] of [['/v1/chat/completions', chat], ['/v1/completions', { model: 'm', prompt: 'p' }], ['/v1/embeddings', { model: 'e', input: 'x' }]] as const) {
      const res = await post(url, body)
      expectError(res, 503, 'no_capacity')
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
    }
    expectError(await post('/v1/chat/completions', { ...chat, stream: true }), 503, 'no_capacity')
  })

  it('validates bodies with the batch line parser', async () => {
    expectError(await post('/v1/chat/completions', { messages: chat.messages }), 400, 'missing_required_parameter', 'model')
    expectError(await post('/v1/chat/completions', { ...chat, temperature: 9 }), 400, 'decimal_above_max_value', 'temperature')
    expectError(await post('/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/cat.png' } }] }] }), 400, 'invalid_value', 'messages[0].content[0].image_url.url')
    expectError(await post('/v1/completions', { model: 'm' }), 400, 'missing_required_parameter', 'prompt')
    expectError(await post('/v1/chat/completions', { ...chat, stream: 'yes' }), 400, 'invalid_type', 'stream')
    expectError(await post('/v1/chat/completions', { ...chat, stream: true, stream_options: 3 }), 400, 'invalid_type', 'stream_options')
    expectError(await post('/v1/embeddings', { model: 'e', input: 'x', stream: true }), 400, 'streaming_unsupported', 'stream')
    expectError(await post('/v1/chat/completions', { ...chat, tools: [{ type: 'function' }] }), 400, 'unsupported_parameter', 'tools')
    expectError(await post('/v1/chat/completions', [1, 2]), 400, 'invalid_type')
    const raw = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: 'Bearer k1', 'content-type': 'application/json' }, payload: '{"model":' })
    expectError(raw, 400, 'invalid_json')
  })

  it('refuses bodies larger than a task message', async () => {
    const res = await post('/v1/chat/completions', { ...chat, messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] })
    expectError(res, 413, 'request_too_large')
  })
})
