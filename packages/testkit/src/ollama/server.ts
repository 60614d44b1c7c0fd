import { createServer } from 'node:http'
import { isDriaError } from '@dria/protocol'
import { BUSY_MESSAGE, DEFAULT_HOST, DEFAULT_MAX_QUEUE, MAX_BODY_BYTES, OLLAMA_VERSION } from './constants.js'
import {
  BadRequest, messagesFrom, metrics, psEntry, samplingFrom, showEntry, streamPieces, tagEntry, untaggedName
} from './wire.js'
import type { Body } from './wire.js'
import type { InferenceEngine, ModelInfo } from '@dria/engines'
import type { GenerationResult } from '@dria/protocol'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OllamaServerFaults {
  /** Answer the next `busy` inference requests with 503 "server busy" (`Infinity`: all of them). */
  busy?: number
  /** Leave `prompt_eval_count` and `eval_count` out of answers, as Ollama does when they are 0. */
  omitCounts?: boolean
}

export interface OllamaServerInit {
  /** Default 0: any free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Inference requests that may be pending at once; beyond it 503 (default 512, Ollama's). */
  maxQueue?: number
  failures?: OllamaServerFaults
  /**
   * Models of the engine this Ollama has not pulled yet: invisible (404 "try pulling it
   * first") until a client pulls them through `/api/pull`. Default none.
   */
  notPulled?: string[]
  /**
   * Media capabilities to report per model in /api/show (e.g. `{ 'stories260K-chat': ['vision'] }`):
   * the model then accepts `images` on its messages, which reach the engine (a text model
   * here, which answers from the text) and are recorded in `received`. Default none.
   */
  media?: Record<string, string[]>
}

export interface ReceivedRequest {
  method: string
  path: string
  /** The parsed JSON body (POST only). */
  body?: Body
}

export interface OllamaServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string
  /** Every request received, in order: what clients really sent. */
  readonly received: ReceivedRequest[]
  /** Replaces the fault injection for the requests that follow. */
  inject(failures: OllamaServerFaults): void
  close(): Promise<void>
}

class HttpError extends Error {
  constructor (readonly status: number, message: string) {
    super(message)
  }
}

function notPulled (model: string): HttpError {
  return new HttpError(404, `model "${model}" not found, try pulling it first`)
}

async function readBody (req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large')
    chunks.push(chunk as Buffer)
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('body must be a JSON object')
    return body as Body
  } catch (err) {
    throw new HttpError(400, (err as Error).message)
  }
}

function sendJson (res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(value))
}

/**
 * A server speaking Ollama's native API (/api/tags, /api/show, /api/ps, /api/version,
 * /api/chat, /api/generate, /api/embed, /api/pull) whose answers come from a real engine, with Ollama's
 * error answers (404 "try pulling it first", 503 when its queue is full) and fault injection.
 * A client that disconnects cancels its generation, as with Ollama.
 */
export async function startOllamaServer (components: { engine: InferenceEngine }, init: OllamaServerInit = {}): Promise<OllamaServer> {
  const { engine } = components
  const maxQueue = init.maxQueue ?? DEFAULT_MAX_QUEUE
  const started = new Date().toISOString()
  const closing = new AbortController()
  const received: ReceivedRequest[] = []
  let faults: OllamaServerFaults = { ...init.failures }
  let pending = 0
  const unpulled = new Set((init.notPulled ?? []).map(untaggedName))

  /** The engine's models this Ollama has (pulled). */
  async function pulledModels (): Promise<ModelInfo[]> {
    return (await engine.listModels()).filter(model => !unpulled.has(model.name))
  }

  const mediaOf = (model: string): string[] => init.media?.[model] ?? []

  async function findModel (name: unknown): Promise<ModelInfo> {
    if (typeof name !== 'string' || name === '') throw new HttpError(400, 'model is required')
    const info = (await pulledModels()).find(model => model.name === untaggedName(name))
    if (info === undefined) throw notPulled(name)
    return info
  }

  /** Ollama's /api/pull: manifest, the layer's download progress, verification, success. */
  async function pull (body: Body, res: ServerResponse): Promise<void> {
    const name = body.model ?? body.name
    if (typeof name !== 'string' || name === '') throw new HttpError(400, 'model is required')
    const info = (await engine.listModels()).find(model => model.name === untaggedName(name))
    const total = info?.sizeBytes ?? 0
    const steps: Body[] = info === undefined
      ? [{ status: 'pulling manifest' }, { error: 'pull model manifest: file does not exist' }]
      : [
          { status: 'pulling manifest' },
          ...[0, 0.25, 0.5, 0.75, 1].map(share => ({ status: `pulling ${info.digest.slice(7, 19)}`, digest: info.digest, total, completed: Math.round(total * share) })),
          { status: 'verifying sha256 digest' },
          { status: 'writing manifest' },
          { status: 'success' }
        ]
    if (info !== undefined) unpulled.delete(info.name)
    if (body.stream === false) {
      const last = steps[steps.length - 1]
      sendJson(res, last.error !== undefined ? 500 : 200, last)
      return
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    for (const step of steps) res.write(JSON.stringify(step) + '\n')
    res.end()
  }

  function counted (usage: GenerationResult['usage']): GenerationResult['usage'] | undefined {
    return faults.omitCounts === true ? undefined : usage
  }

  /** Answers a generation whole or as NDJSON pieces; `piece` shapes one chunk's text. */
  function answer (res: ServerResponse, body: Body, startedAt: number, result: GenerationResult, piece: (text: string) => Body): void {
    const head = { model: body.model }
    const final = {
      ...head,
      created_at: new Date().toISOString(),
      ...piece(''),
      done: true,
      done_reason: result.finishReason,
      ...metrics(Math.round((performance.now() - startedAt) * 1e6), counted(result.usage))
    }
    if (body.stream === false) {
      sendJson(res, 200, { ...final, ...piece(result.text) })
      return
    }
    // Ollama streams unless told otherwise.
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    for (const text of streamPieces(result.text)) {
      res.write(JSON.stringify({ ...head, created_at: new Date().toISOString(), ...piece(text), done: false }) + '\n')
    }
    res.end(JSON.stringify(final) + '\n')
  }

  const inference: Record<string, (body: Body, res: ServerResponse, signal: AbortSignal) => Promise<void>> = {
    '/api/chat': async (body, res, signal) => {
      const startedAt = performance.now()
      const info = await findModel(body.model)
      const messages = messagesFrom(body)
      // Ollama refuses images for a model without the vision capability.
      if (messages.some(m => m.images !== undefined) && !mediaOf(info.name).includes('vision')) throw new HttpError(400, `model "${info.name}" does not support images`)
      const request = { model: info.name, messages, ...samplingFrom(body) }
      const result = await engine.chat(request, { signal })
      answer(res, body, startedAt, result, content => ({ message: { role: 'assistant', content } }))
    },
    '/api/generate': async (body, res, signal) => {
      const startedAt = performance.now()
      const info = await findModel(body.model)
      if (typeof body.prompt !== 'string') throw new HttpError(400, 'prompt is required')
      const params = samplingFrom(body)
      // Without raw, Ollama wraps the prompt in the model's template: a one-turn chat.
      const result = body.raw === true
        ? await engine.complete({ model: info.name, prompt: body.prompt, ...params }, { signal })
        : await engine.chat({
          model: info.name,
          messages: [
            ...(typeof body.system === 'string' ? [{ role: 'system' as const, content: body.system }] : []),
            { role: 'user', content: body.prompt }
          ],
          ...params
        }, { signal })
      answer(res, body, startedAt, result, response => ({ response }))
    },
    '/api/embed': async (body, res, signal) => {
      const startedAt = performance.now()
      const info = await findModel(body.model)
      const input = typeof body.input === 'string' ? [body.input] : body.input
      if (!Array.isArray(input) || !input.every(item => typeof item === 'string')) throw new HttpError(400, 'input must be a string or a list of strings')
      const result = await engine.embed({ model: info.name, input }, { signal })
      sendJson(res, 200, {
        model: body.model,
        embeddings: result.embeddings,
        ...metrics(Math.round((performance.now() - startedAt) * 1e6), counted(result.usage))
      })
    }
  }

  const queries: Record<string, (body: Body | undefined) => Promise<unknown>> = {
    'GET /api/version': async () => ({ version: OLLAMA_VERSION }),
    'GET /api/tags': async () => ({ models: (await pulledModels()).map(info => tagEntry(info, started)) }),
    'GET /api/ps': async () => {
      const expiresAt = new Date(Date.now() + 5 * 60_000).toISOString()
      return { models: (await pulledModels()).map(info => psEntry(info, expiresAt)) }
    },
    'POST /api/show': async (body) => {
      const name = body?.model ?? body?.name
      const info = (await pulledModels()).find(model => typeof name === 'string' && model.name === untaggedName(name))
      if (info === undefined) throw new HttpError(404, `model '${String(name)}' not found`)
      return showEntry(info, started, mediaOf(info.name))
    }
  }

  async function runInference (path: string, body: Body, res: ServerResponse): Promise<void> {
    if ((faults.busy ?? 0) > 0) {
      faults = { ...faults, busy: (faults.busy ?? 0) - 1 }
      throw new HttpError(503, BUSY_MESSAGE)
    }
    if (pending >= maxQueue) throw new HttpError(503, BUSY_MESSAGE)
    pending++
    const gone = new AbortController()
    res.on('close', () => { if (!res.writableFinished) gone.abort() })
    try {
      await inference[path](body, res, AbortSignal.any([gone.signal, closing.signal]))
    } finally {
      pending--
    }
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const body = method === 'POST' ? await readBody(req) : undefined
    received.push({ method, path, body })
    if (method === 'POST' && body !== undefined && Object.hasOwn(inference, path)) return await runInference(path, body, res)
    if (method === 'POST' && body !== undefined && path === '/api/pull') return await pull(body, res)
    const query = queries[`${method} ${path}`]
    if (query === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found')
      return
    }
    sendJson(res, 200, await query(body))
  }

  function fail (res: ServerResponse, err: unknown): void {
    if (res.headersSent || res.destroyed) {
      res.destroy()
      return
    }
    if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message })
    if (err instanceof BadRequest) return sendJson(res, 400, { error: err.message })
    if (isDriaError(err) && err.code === 'MODEL_NOT_FOUND') return sendJson(res, 404, { error: err.message })
    if (isDriaError(err) && !err.retryable) return sendJson(res, 400, { error: err.message })
    sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(err => { fail(res, err) })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, init.host ?? DEFAULT_HOST, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { address, port } = server.address() as AddressInfo

  return {
    url: `http://${address}:${port}`,
    received,
    inject (failures) {
      faults = { ...failures }
    },
    async close () {
      closing.abort()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) => { server.close(err => { err === undefined ? resolve() : reject(err) }) })
    }
  }
}
