import { createReadStream, createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import type { Batch as OpenAIBatch, BatchCreateParams, BatchRequestCounts } from 'openai/resources/batches'
import type { FileObject } from 'openai/resources/files'
import { DEFAULT_RETRIES } from '../constants.js'

export type { FileObject }

/** OpenAI's batch object; the coordinator always sends `request_counts`. */
export type Batch = OpenAIBatch & { request_counts: BatchRequestCounts }

/** A model of `/v1/models`, with what Dria adds: node count and capabilities. */
export interface ModelObject {
  id: string
  kind: 'chat' | 'embedding'
  nodes: number
  /** `completion` or `embedding`, plus `vision`/`audio` (media it reads) and `score`. */
  capabilities: string[]
}

/** A node of the public network view (`/api/v0/network/nodes`; the README documents every field). */
export interface NodeObject {
  peer_id: string
  engine: string
  version: string
  models: Array<{ name: string, digest: string, kind: string, tokens_per_second: number, capabilities: string[] }>
  slots: { advertised: number, in_flight: number }
  uptime_seconds: number | null
  trust: { level: 'new' | 'trusted' | 'allowlisted' | 'quarantined', reason: string | null, since: number | null }
  verified: { tasks: number, tokens: number, audited: number }
}

export interface ApiKeyObject { id: string, name: string, plan: string, created_at: number, prefix: string, key?: string }

export interface DriaClientInit {
  /** The coordinator, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string
  apiKey: string
  /** Retries of failed requests (connection errors, 408, 409, 429, 5xx), with backoff and jitter. Default 3. */
  maxRetries?: number
  /** Per-request timeout. Default the SDK's (10 min). */
  timeoutMs?: number
}

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'expired', 'cancelled'])

/**
 * The coordinator's API through the official `openai` SDK (its retries, timeouts, paging and
 * error classes): `/v1` as OpenAI, Dria's own routes (`/api/v0`, `/admin`) beside it.
 */
export class DriaClient {
  readonly baseUrl: string
  /** The OpenAI API (`<baseUrl>/v1`). */
  readonly openai: OpenAI
  /** Dria's routes outside `/v1`. */
  readonly root: OpenAI

  constructor (init: DriaClientInit) {
    this.baseUrl = init.baseUrl.replace(/\/+$/, '')
    // The SDK refuses to start without a key; public routes need none, and /v1 answers 401.
    const options = { apiKey: init.apiKey === '' ? 'none' : init.apiKey, maxRetries: init.maxRetries ?? DEFAULT_RETRIES, timeout: init.timeoutMs }
    this.openai = new OpenAI({ ...options, baseURL: `${this.baseUrl}/v1` })
    this.root = new OpenAI({ ...options, baseURL: this.baseUrl })
  }

  /** Uploads a file from disk, streamed. */
  async uploadFile (path: string, purpose: 'batch' = 'batch'): Promise<FileObject> {
    return await this.openai.files.create({ file: createReadStream(path), purpose })
  }

  async createBatch (request: Omit<BatchCreateParams, 'completion_window' | 'endpoint'> & { endpoint?: string }): Promise<Batch> {
    return await this.openai.batches.create({ completion_window: '24h', ...request, endpoint: (request.endpoint ?? '/v1/chat/completions') as BatchCreateParams['endpoint'] }) as Batch
  }

  async getBatch (id: string): Promise<Batch> {
    return await this.openai.batches.retrieve(id) as Batch
  }

  /** Every batch of the key, newest first (all pages). */
  async listBatches (): Promise<Batch[]> {
    const batches: Batch[] = []
    for await (const batch of this.openai.batches.list({ limit: 100 })) batches.push(batch as Batch)
    return batches
  }

  async cancelBatch (id: string): Promise<Batch> {
    return await this.openai.batches.cancel(id) as Batch
  }

  /** Every file of the key (all pages). */
  async listFiles (): Promise<FileObject[]> {
    const files: FileObject[] = []
    for await (const file of this.openai.files.list({ limit: 1000 })) files.push(file)
    return files
  }

  async models (): Promise<ModelObject[]> {
    return (await this.openai.models.list()).data as unknown as ModelObject[]
  }

  async nodes (): Promise<NodeObject[]> {
    return (await this.root.get<{ data: NodeObject[] }>('/api/v0/network/nodes')).data
  }

  /** A file's content, as text. */
  async fileText (id: string): Promise<string> {
    return await (await this.openai.files.content(id)).text()
  }

  /** Streams a file's content to `path`. */
  async downloadFile (id: string, path: string): Promise<void> {
    const response = await this.openai.files.content(id)
    await pipeline(Readable.fromWeb(response.body as WebReadableStream), createWriteStream(path))
  }

  /** Polls until the batch reaches a final status, reporting each poll. */
  async waitForBatch (id: string, options: { intervalMs?: number, onProgress?: (batch: Batch) => void, signal?: AbortSignal } = {}): Promise<Batch> {
    for (;;) {
      const batch = await this.openai.batches.retrieve(id, { signal: options.signal }) as Batch
      options.onProgress?.(batch)
      if (FINAL_STATUSES.has(batch.status)) return batch
      await sleep(options.intervalMs ?? 500, undefined, { signal: options.signal })
    }
  }

  /** The admin API (`Authorization: Bearer $DRIA_ADMIN_TOKEN`): create, list and revoke API keys. */
  async createKey (name: string, plan: string): Promise<ApiKeyObject> {
    return await this.root.post<ApiKeyObject>('/admin/keys', { body: { name, plan } })
  }

  async listKeys (): Promise<ApiKeyObject[]> {
    return (await this.root.get<{ data: ApiKeyObject[] }>('/admin/keys')).data
  }

  async revokeKey (id: string): Promise<{ id: string, deleted: boolean }> {
    return await this.root.delete<{ id: string, deleted: boolean }>(`/admin/keys/${encodeURIComponent(id)}`)
  }
}
