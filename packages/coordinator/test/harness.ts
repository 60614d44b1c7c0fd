import { createServer } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import OpenAI, { toFile } from 'openai'
import type { Batch } from 'openai/resources/batches'
import { startCoordinatorProcess, startNodeProcess, startTestNode, tempDir, testModels } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess, TestNodeConfig } from '@dria/testkit'

/** Shared set-up of the coordinator e2e tests: real processes on small real models (stories260K, or the generated ones). */

export const models = await testModels()
export const MODELS_DIR = models.dir
export const MODEL = models.main
/** A second model whose lines always run to max_tokens: work that reliably takes a while. */
export const LONG_MODEL = models.other

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled'])

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export interface TestNetwork {
  coordinator: CoordinatorProcess
  nodes: NodeProcess[]
  dir: string
  stop(): Promise<void>
}

/**
 * A coordinator and `nodes` llama.cpp nodes serving MODEL (or `models`), each with `slots`
 * slots. With a single node nobody could check its results, so the coordinator accepts
 * unverified ones unless `acceptUnverified` says otherwise.
 */
export async function startNetwork (options: { apiKeys?: string[], coordinatorArgs?: string[], env?: Record<string, string>, nodes?: number, slots?: number, models?: string[], acceptUnverified?: boolean }): Promise<TestNetwork> {
  const dir = await tempDir('dria-e2e-')
  const started: Array<CoordinatorProcess | NodeProcess> = []
  const stop = async (): Promise<void> => {
    await Promise.all(started.map(async p => await p.stop()))
    await dir.remove()
  }
  try {
    const acceptUnverified = options.acceptUnverified ?? (options.nodes ?? 1) < 2
    const args = [...(acceptUnverified ? ['--accept-unverified'] : []), ...(options.coordinatorArgs ?? [])]
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: options.apiKeys ?? [], args, env: options.env })
    started.push(coordinator)
    const nodes = await Promise.all(Array.from({ length: options.nodes ?? 1 }, async (_, i) => await startNodeProcess({
      dataDir: join(dir.path, `node-${i}`),
      bootstrap: coordinator.multiaddrs,
      args: ['--models-dir', MODELS_DIR, '--models', (options.models ?? [MODEL]).join(','), '--slots', String(options.slots ?? 1)]
    })))
    started.push(...nodes)
    return { coordinator, nodes, dir: dir.path, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

export function openaiClient (url: string, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 })
}

/** Waits until the coordinator's network view lists MODEL on `count` nodes. */
export async function waitForNodes (openai: OpenAI, count: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const models = await openai.models.list()
    if (models.data.some(m => m.id === MODEL && (m as unknown as { nodes: number }).nodes === count)) return
    await sleep(200)
  }
  throw new Error(`the coordinator did not see ${count} node(s) serving ${MODEL}`)
}

/** Polls a batch until `until` holds (default: a final status); calls `onPoll` with every state seen. */
export async function waitForBatch (openai: OpenAI, id: string, options: { until?: (batch: Batch) => boolean, onPoll?: (batch: Batch) => void, intervalMs?: number, timeoutMs?: number } = {}): Promise<Batch> {
  const until = options.until ?? ((batch: Batch) => FINAL.has(batch.status))
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  for (;;) {
    const batch = await openai.batches.retrieve(id)
    options.onPoll?.(batch)
    if (until(batch)) return batch
    if (Date.now() > deadline) throw new Error(`batch ${id} is still '${batch.status}' with ${JSON.stringify(batch.request_counts)}`)
    await sleep(options.intervalMs ?? 100)
  }
}

/** The `error.code` of an OpenAI error envelope. */
export async function errorCode (response: Response): Promise<string> {
  return (await response.json() as { error: { code: string } }).error.code
}

export function jsonl (lines: unknown[]): string {
  return lines.map(line => JSON.stringify(line)).join('\n') + '\n'
}

/** `count` OpenAI request lines for `url`, with custom ids `${prefix}-${i}`. */
export function requestLines (count: number, url: string, body: (i: number) => Record<string, unknown>, prefix = 'req'): unknown[] {
  return Array.from({ length: count }, (_, i) => ({ custom_id: `${prefix}-${i}`, method: 'POST', url, body: { model: MODEL, ...body(i) } }))
}

export async function uploadBatchFile (openai: OpenAI, lines: unknown[], filename = 'input.jsonl'): Promise<string> {
  const file = await openai.files.create({ file: await toFile(Buffer.from(jsonl(lines)), filename), purpose: 'batch' })
  return file.id
}

/** Uploads `lines` and creates a batch for them; extra body fields (e.g. webhook_url) are sent as given. */
export async function createBatch (openai: OpenAI, lines: unknown[], options: { endpoint?: string, extra?: Record<string, unknown> } = {}): Promise<Batch> {
  const inputFileId = await uploadBatchFile(openai, lines)
  const endpoint = (options.endpoint ?? '/v1/chat/completions') as '/v1/chat/completions'
  return await openai.batches.create({ input_file_id: inputFileId, endpoint, completion_window: '24h', ...options.extra })
}

export async function readJsonl<T = any> (openai: OpenAI, fileId: string | null | undefined): Promise<T[]> {
  if (fileId === null || fileId === undefined) return []
  const text = await (await openai.files.content(fileId)).text()
  return text.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as T)
}

export interface ReceivedEvent {
  headers: IncomingHttpHeaders
  body: { id: string, type: string, data: { id: string, status: string, [key: string]: unknown } }
  /** The body as sent: what the signature covers. */
  raw: string
  /** The status this delivery attempt was answered with. */
  answered: number
}

export interface WebhookReceiver {
  url: string
  /** Every delivery attempt, in arrival order. */
  attempts: ReceivedEvent[]
  /** Resolves with the first delivered (answered 200) event of `type` for `batchId`. */
  delivered(type: string, batchId: string, timeoutMs?: number): Promise<ReceivedEvent>
  close(): Promise<void>
}

/** A webhook endpoint on 127.0.0.1 that answers the first attempt of each event with 500. */
export async function startWebhookReceiver (): Promise<WebhookReceiver> {
  const attempts: ReceivedEvent[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString()
      const body = JSON.parse(raw) as ReceivedEvent['body']
      const answered = attempts.some(a => a.body.id === body.id) ? 200 : 500
      attempts.push({ headers: request.headers, body, raw, answered })
      response.statusCode = answered
      response.end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/hooks/dria`,
    attempts,
    async delivered (type, batchId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const event = attempts.find(a => a.answered === 200 && a.body.type === type && a.body.data.id === batchId)
        if (event !== undefined) return event
        if (Date.now() > deadline) throw new Error(`no ${type} event delivered for ${batchId}`)
        await sleep(100)
      }
    },
    async close () {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** A synthetic model every synthetic test node serves (deterministic text at a set speed). */
export const SYNTHETIC_MODEL = 'synthetic-1b'

export interface SyntheticNodeSpec {
  slots?: number
  tokensPerSecond?: number
  /** What it serves; default SYNTHETIC_MODEL with its honest digest. */
  models?: Array<{ name: string, digest?: string }>
  cheat?: TestNodeConfig['cheat']
  verifier?: TestNodeConfig['verifier']
  crashAfter?: number
  flapEveryMs?: number
  flapEveryTasks?: number
  /** Node.js flags of its process (e.g. --cpu-prof). */
  execArgv?: string[]
}

/** A coordinator and real node daemons around synthetic (or cheating synthetic) engines. */
export async function startSyntheticNetwork (options: { apiKeys: string[], nodes: SyntheticNodeSpec[], coordinatorArgs?: string[], coordinatorExecArgv?: string[] }): Promise<TestNetwork & { addNode: (spec: SyntheticNodeSpec) => Promise<NodeProcess> }> {
  const dir = await tempDir('dria-synthetic-')
  const started: Array<CoordinatorProcess | NodeProcess> = []
  const stop = async (): Promise<void> => {
    await Promise.all(started.map(async p => await p.stop(2_000)))
    await dir.remove()
  }
  let count = 0
  try {
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: options.apiKeys, args: options.coordinatorArgs, execArgv: options.coordinatorExecArgv })
    started.push(coordinator)
    const addNode = async (spec: SyntheticNodeSpec): Promise<NodeProcess> => {
      const node = await startTestNode({
        dataDir: join(dir.path, `node-${count++}`),
        bootstrap: coordinator.multiaddrs,
        slots: spec.slots ?? 4,
        engine: { type: 'synthetic', models: spec.models ?? [{ name: SYNTHETIC_MODEL }], tokensPerSecond: spec.tokensPerSecond ?? 400 },
        cheat: spec.cheat,
        verifier: spec.verifier,
        crashAfter: spec.crashAfter,
        flapEveryMs: spec.flapEveryMs,
        flapEveryTasks: spec.flapEveryTasks
      }, { execArgv: spec.execArgv })
      started.push(node)
      return node
    }
    const nodes = await Promise.all(options.nodes.map(addNode))
    return { coordinator, nodes, dir: dir.path, stop, addNode }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Waits until the coordinator's view lists `model` on `count` nodes. */
export async function waitForModelNodes (openai: OpenAI, model: string, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const models = await openai.models.list()
    const nodes = (models.data.find(m => m.id === model) as unknown as { nodes: number } | undefined)?.nodes ?? 0
    if (nodes === count) return
    if (Date.now() > deadline) throw new Error(`the coordinator did not see ${count} node(s) serving ${model}`)
    await sleep(100)
  }
}
