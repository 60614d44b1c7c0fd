import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createLlamaCppEngine, createOllamaEngine, isOllamaReachable, measureTokensPerSecond, pullOllamaModel } from '@dria/engines'
import type { PullProgress } from '@dria/engines'
import { createLogger, isDriaError } from '@dria/protocol'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { testModels } from '../models/index.js'
import { startOllamaServer } from './index.js'
import type { OllamaServer } from './index.js'
import type { InferenceEngine, LlamaCppEngine, OllamaEngine } from '@dria/engines'
import type { ChatRequest, CompletionRequest, GenerationResult } from '@dria/protocol'

const logger = createLogger('test')
const models = await testModels()

const chat: ChatRequest = {
  model: models.chat,
  messages: [{ role: 'developer', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about a dog.' }],
  temperature: 0,
  maxTokens: 30
}
const story: CompletionRequest = { model: models.main, prompt: 'Once upon a time', temperature: 0, maxTokens: 30 }
const long: CompletionRequest = { model: models.other, prompt: 'hello', temperature: 0, maxTokens: 1500 }

async function rejection (promise: Promise<unknown>): Promise<{ code: string, retryable: boolean }> {
  try {
    await promise
  } catch (err) {
    if (isDriaError(err)) return { code: err.code, retryable: err.retryable }
    throw err
  }
  throw new Error('expected a rejection')
}

async function post (server: OllamaServer, path: string, body: unknown): Promise<Response> {
  return await fetch(server.url + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
}

describe('Ollama-protocol server and OllamaEngine', () => {
  let llama: LlamaCppEngine
  let server: OllamaServer
  let ollama: OllamaEngine

  /** How the engine behind the server saw its calls end: proves a client's abort reaches it. */
  const serverSide: string[] = []
  async function track<T> (call: Promise<T>): Promise<T> {
    return await call.catch((err: unknown) => {
      serverSide.push(isDriaError(err) ? err.code : String(err))
      throw err
    })
  }

  const lastBody = (path: string): Record<string, unknown> | undefined => server.received.filter(r => r.path === path).at(-1)?.body
  const count = (path: string): number => server.received.filter(r => r.path === path).length

  beforeAll(async () => {
    llama = await createLlamaCppEngine({ logger }, { modelsDir: models.dir, threads: 1, slots: 4 })
    const tracked: InferenceEngine = {
      name: 'llamacpp',
      listModels: async () => await llama.listModels(),
      chat: async (request, options) => await track(llama.chat(request, options)),
      complete: async (request, options) => await track(llama.complete(request, options)),
      embed: async (request, options) => await track(llama.embed(request, options)),
      abort: () => { llama.abort() },
      close: async () => {}
    }
    server = await startOllamaServer({ engine: tracked })
    ollama = createOllamaEngine({ logger }, { host: server.url, retries: 3, retryBaseMs: 5 })
  })

  afterAll(async () => {
    await ollama.close()
    await server.close()
    await llama.close()
  })

  it('lists the same models, digests and context lengths', async () => {
    const [viaOllama, direct] = [await ollama.listModels(), await llama.listModels()]
    expect(viaOllama).toEqual(direct)
  })

  it('returns the same results as the engine it wraps', async () => {
    // Ollama's answers carry no token ids, and its sampler is its own.
    const served = ({ text, finishReason, usage }: GenerationResult): GenerationResult => ({ text, finishReason, usage, sampler: 'native' })
    expect(await ollama.chat(chat)).toEqual(served(await llama.chat(chat)))
    expect(await ollama.complete(story)).toEqual(served(await llama.complete(story)))
    const embedding = { model: models.main, input: ['a cat', 'a dog'] }
    expect(await ollama.embed(embedding)).toEqual(await llama.embed(embedding))
    const cut = await ollama.complete({ ...story, maxTokens: 4 })
    expect(cut.finishReason).toBe('length')
    expect(cut.usage.completionTokens).toBe(4)
  })

  it('maps sampling parameters to Ollama options', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }
    const result = await ollama.chat({ ...chat, maxTokens: 40, temperature: 0.5, topP: 0.9, seed: 5, stop: ['zz'], responseFormat: { type: 'json_schema', schema } })
    expect(JSON.parse(result.text)).toEqual({ ok: expect.any(Boolean) })
    expect(lastBody('/api/chat')).toEqual({
      model: models.chat,
      messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about a dog.' }],
      stream: true,
      format: schema,
      options: { num_predict: 40, temperature: 0.5, top_p: 0.9, seed: 5, stop: ['zz'] }
    })
    await ollama.complete({ model: models.main, prompt: 'Once', responseFormat: { type: 'json_object' } })
    // No max_tokens: the engines' common default budget; no temperature: the model's default.
    expect(lastBody('/api/generate')).toEqual({ model: models.main, prompt: 'Once', raw: true, stream: true, format: 'json', options: { num_predict: 256 } })
    await ollama.embed({ model: models.main, input: ['x'] })
    expect(lastBody('/api/embed')).toEqual({ model: models.main, input: ['x'], truncate: false })
  })

  it('retries 503 "server busy" and then succeeds', async () => {
    const before = count('/api/chat')
    server.inject({ busy: 2 })
    expect((await ollama.chat(chat)).text).toBe((await llama.chat(chat)).text)
    expect(count('/api/chat') - before).toBe(3)
  })

  it('fails with retryable ENGINE_BUSY when 503 persists', async () => {
    const before = count('/api/generate')
    server.inject({ busy: Number.POSITIVE_INFINITY })
    try {
      expect(await rejection(ollama.complete(story))).toEqual({ code: 'ENGINE_BUSY', retryable: true })
      // The first attempt and three retries.
      expect(count('/api/generate') - before).toBe(4)
    } finally {
      server.inject({})
    }
  })

  it('answers 404 "try pulling it first" for unknown models, which is MODEL_NOT_SERVED', async () => {
    const response = await post(server, '/api/chat', { model: 'nope', messages: [] })
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: 'model "nope" not found, try pulling it first' })
    expect((await rejection(ollama.chat({ ...chat, model: 'nope' }))).code).toBe('MODEL_NOT_SERVED')
    expect((await rejection(ollama.embed({ model: 'nope', input: ['x'] }))).code).toBe('MODEL_NOT_SERVED')
  })

  it('counts missing prompt_eval_count and eval_count as 0', async () => {
    server.inject({ omitCounts: true })
    try {
      const raw = await (await post(server, '/api/generate', { model: models.main, prompt: 'Once', raw: true, stream: false })).json() as Record<string, unknown>
      expect(raw).not.toHaveProperty('prompt_eval_count')
      expect(raw).not.toHaveProperty('eval_count')
      const result = await ollama.complete(story)
      expect(result.text.length).toBeGreaterThan(0)
      expect(result.usage).toEqual({ promptTokens: 0, completionTokens: 0 })
    } finally {
      server.inject({})
    }
  })

  it('aborts calls in flight with ENGINE_ABORTED, all or one by its signal', async () => {
    serverSide.length = 0
    const sent = count('/api/generate') + count('/api/chat')
    const all = [rejection(ollama.complete(long)), rejection(ollama.chat({ ...chat, model: models.other, maxTokens: 1500 }))]
    await vi.waitFor(() => { expect(count('/api/generate') + count('/api/chat')).toBe(sent + 2) })
    ollama.abort()
    expect((await Promise.all(all)).map(r => r.code)).toEqual(['ENGINE_ABORTED', 'ENGINE_ABORTED'])
    // The server saw the clients go and cancelled both generations.
    await vi.waitFor(() => { expect(serverSide).toEqual(['ENGINE_ABORTED', 'ENGINE_ABORTED']) })

    const controller = new AbortController()
    const one = rejection(ollama.complete(long, { signal: controller.signal }))
    const other = ollama.complete(story)
    controller.abort()
    expect((await one).code).toBe('ENGINE_ABORTED')
    expect((await other).text).toBe((await llama.complete(story)).text)
  })

  it('serves only the models it is told to', async () => {
    const filtered = createOllamaEngine({ logger }, { host: server.url, models: [models.main] })
    try {
      expect((await filtered.listModels()).map(m => m.name)).toEqual([models.main])
      expect((await filtered.complete({ ...story, model: `${models.main}:latest` })).text).toBe((await llama.complete(story)).text)
      expect((await rejection(filtered.chat(chat))).code).toBe('MODEL_NOT_FOUND')
    } finally {
      await filtered.close()
    }
  })

  it('measures tokens per second through either engine', async () => {
    expect(await measureTokensPerSecond(llama, models.main)).toBeGreaterThan(0)
    expect(await measureTokensPerSecond(ollama, models.main)).toBeGreaterThan(0)
  })

  it('speaks the native wire format', async () => {
    expect(await (await fetch(`${server.url}/api/version`)).json()).toEqual({ version: expect.any(String) })
    const tags = await (await fetch(`${server.url}/api/tags`)).json() as { models: Array<Record<string, unknown>> }
    const first = (await llama.listModels())[0]
    expect(tags.models[0]).toMatchObject({
      name: `${models.names[0]}:latest`,
      model: `${models.names[0]}:latest`,
      // Bare hex, as Ollama lists it, of the file's sha256.
      digest: first.digest.replace(/^sha256:/, ''),
      size: (await stat(join(models.dir, `${models.names[0]}.gguf`))).size,
      details: { format: 'gguf', family: 'llama' }
    })
    const ps = await (await fetch(`${server.url}/api/ps`)).json() as { models: Array<Record<string, unknown>> }
    expect(ps.models.map(m => m.name)).toEqual(tags.models.map(m => m.name))
    const show = await (await post(server, '/api/show', { model: models.main })).json() as Record<string, unknown>
    expect(show).toMatchObject({ capabilities: ['completion'], model_info: { 'general.architecture': 'llama', 'llama.context_length': expect.any(Number) } })
    expect((await post(server, '/api/show', { model: 'nope' })).status).toBe(404)

    // Streaming is the default: NDJSON pieces, then a final chunk with the counts (of a model that runs to num_predict).
    const body = { model: models.other, messages: [{ role: 'user', content: 'Hi' }], options: { temperature: 0, num_predict: 20 } }
    const streamed = await post(server, '/api/chat', body)
    expect(streamed.headers.get('content-type')).toBe('application/x-ndjson')
    const chunks = (await streamed.text()).trim().split('\n').map(line => JSON.parse(line) as { message: { content: string }, done: boolean, done_reason?: string, eval_count?: number })
    expect(chunks.length).toBeGreaterThan(2)
    expect(chunks.slice(0, -1).every(chunk => !chunk.done)).toBe(true)
    expect(chunks.at(-1)).toMatchObject({ done: true, done_reason: 'length', eval_count: 20, message: { role: 'assistant', content: '' } })
    const whole = await (await post(server, '/api/chat', { ...body, stream: false })).json() as { message: { content: string }, prompt_eval_count: number }
    expect(chunks.map(chunk => chunk.message.content).join('')).toBe(whole.message.content)
    expect(whole.prompt_eval_count).toBeGreaterThan(0)
  })

  it('answers 503 once more than maxQueue requests are pending', async () => {
    const small = await startOllamaServer({ engine: llama }, { maxQueue: 1 })
    const client = createOllamaEngine({ logger }, { host: small.url, retries: 0 })
    try {
      const results = await Promise.allSettled([client.complete({ ...long, maxTokens: 300 }), client.complete({ ...long, maxTokens: 300 })])
      expect(results.map(r => r.status).sort()).toEqual(['fulfilled', 'rejected'])
      const failed = results.find(r => r.status === 'rejected')
      expect(isDriaError(failed?.reason, 'ENGINE_BUSY')).toBe(true)
    } finally {
      await client.close()
      await small.close()
    }
  })

  it('pulls a model it does not have through /api/pull, with progress; an unknown name fails', async () => {
    const fresh = await startOllamaServer({ engine: llama }, { notPulled: [models.chat] })
    const client = createOllamaEngine({ logger }, { host: fresh.url, retries: 0 })
    try {
      expect((await client.listModels()).map(m => m.name)).not.toContain(models.chat)
      expect((await rejection(client.chat(chat))).code).toBe('MODEL_NOT_SERVED')
      const progress: PullProgress[] = []
      await pullOllamaModel(fresh.url, models.chat, { onProgress: p => progress.push(p) })
      expect(progress[0].status).toBe('pulling manifest')
      expect(progress.at(-1)?.status).toBe('success')
      const bytes = progress.filter(p => p.completed !== undefined).map(p => p.completed)
      expect(bytes.length).toBeGreaterThan(1)
      expect(bytes).toEqual([...bytes].sort((a, b) => (a ?? 0) - (b ?? 0)))
      expect(progress.find(p => p.total !== undefined)?.total).toBe((await llama.listModels()).find(m => m.name === models.chat)?.sizeBytes)
      expect((await client.listModels()).map(m => m.name)).toContain(models.chat)
      expect((await client.chat(chat)).text).toBe((await llama.chat(chat)).text)
      expect(fresh.received.filter(r => r.path === '/api/pull').map(r => r.body?.model ?? r.body?.name)).toEqual([models.chat])

      expect((await rejection(pullOllamaModel(fresh.url, 'no-such-model'))).code).toBe('ENGINE_ERROR')
      const whole = await post(fresh, '/api/pull', { model: 'no-such-model', stream: false })
      expect(whole.status).toBe(500)
      expect(await whole.json()).toEqual({ error: 'pull model manifest: file does not exist' })
    } finally {
      await client.close()
      await fresh.close()
    }
  })

  it('advertises vision models, passes images through and refuses them elsewhere', async () => {
    const vision = await startOllamaServer({ engine: llama }, { media: { [models.chat]: ['vision'] } })
    const client = createOllamaEngine({ logger }, { host: vision.url })
    try {
      const listed = await client.listModels()
      expect(listed.find(m => m.name === models.chat)?.media).toEqual(['vision'])
      expect(listed.find(m => m.name === models.main)).not.toHaveProperty('media')
      const image = Buffer.from('not really a png').toString('base64')
      const result = await client.chat({ ...chat, messages: [{ role: 'user', content: 'What is in the picture?', images: [image] }] })
      expect(result.text.length).toBeGreaterThan(0)
      expect(vision.received.filter(r => r.path === '/api/chat').at(-1)?.body?.messages).toEqual([{ role: 'user', content: 'What is in the picture?', images: [image] }])
      const refused = await rejection(client.chat({ ...chat, model: models.main, messages: [{ role: 'user', content: 'x', images: [image] }] }))
      expect(refused.retryable).toBe(false)
      expect((await post(vision, '/api/chat', { model: models.chat, messages: [{ role: 'user', content: 'x', images: ['%%%'] }] })).status).toBe(400)
    } finally {
      await client.close()
      await vision.close()
    }
  })

  it('tells whether an Ollama server is reachable', async () => {
    const gone = await startOllamaServer({ engine: llama })
    await gone.close()
    expect(await isOllamaReachable(server.url, { timeoutMs: 2_000 })).toBe(true)
    expect(await isOllamaReachable(gone.url, { timeoutMs: 2_000 })).toBe(false)
  })
})
