import { createWriteStream, openAsBlob } from 'node:fs'
import { basename } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { DriaError } from '@dria/protocol'

export interface FileObject { id: string, bytes: number, filename: string, purpose: string, created_at: number }

export interface BatchObject {
  id: string
  status: string
  endpoint: string
  input_file_id: string
  output_file_id: string | null
  error_file_id: string | null
  request_counts: { total: number, completed: number, failed: number }
  errors: { data: Array<{ code: string, message: string, line: number | null }> } | null
  created_at: number
  usage?: { input_tokens: number, output_tokens: number, total_tokens: number }
}

export interface ModelObject { id: string, kind: string, nodes: number }

/** A node of the public network view (`/api/v0/network/nodes`; the README documents every field). */
export interface NodeObject {
  peer_id: string
  engine: string
  version: string
  models: Array<{ name: string, digest: string, kind: string, tokens_per_second: number }>
  slots: { advertised: number, in_flight: number }
  uptime_seconds: number | null
  trust: { level: 'new' | 'trusted' | 'allowlisted' | 'quarantined', reason: string | null, since: number | null }
  verified: { tasks: number, tokens: number, audited: number }
}

export interface CreateBatchRequest {
  input_file_id: string
  endpoint: string
  completion_window?: '24h'
  metadata?: Record<string, string>
}

/** A small client of the coordinator's OpenAI-compatible API, used by the CLI and scripts. */
export class DriaClient {
  readonly baseUrl: string
  readonly #apiKey: string

  constructor (init: { baseUrl: string, apiKey: string }) {
    this.baseUrl = init.baseUrl.replace(/\/+$/, '')
    this.#apiKey = init.apiKey
  }

  async #request (method: string, path: string, body?: string | FormData, headers: Record<string, string> = {}): Promise<Response> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      body,
      headers: { authorization: `Bearer ${this.#apiKey}`, ...headers }
    })
    if (!response.ok) {
      const payload = await response.json().catch(() => ({})) as { error?: { code?: string, message?: string } }
      throw new DriaError(payload.error?.code ?? `http_${response.status}`, payload.error?.message ?? `${method} ${path} failed with ${response.status}`)
    }
    return response
  }

  async #json<T> (method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#request(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'content-type': 'application/json' })
    return await response.json() as T
  }

  /** Uploads a file from disk without reading it into memory. */
  async uploadFile (path: string, purpose = 'batch'): Promise<FileObject> {
    const form = new FormData()
    form.set('purpose', purpose)
    form.set('file', await openAsBlob(path), basename(path))
    const response = await this.#request('POST', '/v1/files', form)
    return await response.json() as FileObject
  }

  async createBatch (request: CreateBatchRequest): Promise<BatchObject> {
    return await this.#json('POST', '/v1/batches', { completion_window: '24h', ...request })
  }

  async getBatch (id: string): Promise<BatchObject> {
    return await this.#json('GET', `/v1/batches/${encodeURIComponent(id)}`)
  }

  async listBatches (limit = 20): Promise<BatchObject[]> {
    return (await this.#json<{ data: BatchObject[] }>('GET', `/v1/batches?limit=${limit}`)).data
  }

  async cancelBatch (id: string): Promise<BatchObject> {
    return await this.#json('POST', `/v1/batches/${encodeURIComponent(id)}/cancel`)
  }

  async listFiles (): Promise<FileObject[]> {
    return (await this.#json<{ data: FileObject[] }>('GET', '/v1/files')).data
  }

  async models (): Promise<ModelObject[]> {
    return (await this.#json<{ data: ModelObject[] }>('GET', '/v1/models')).data
  }

  async nodes (): Promise<NodeObject[]> {
    return (await this.#json<{ data: NodeObject[] }>('GET', '/api/v0/network/nodes')).data
  }

  /** Streams a file's content to `path`. */
  async downloadFile (id: string, path: string): Promise<void> {
    const response = await this.#request('GET', `/v1/files/${encodeURIComponent(id)}/content`)
    await pipeline(Readable.fromWeb(response.body as WebReadableStream), createWriteStream(path))
  }

  /** Polls until the batch reaches a final status, reporting each change. */
  async waitForBatch (id: string, options: { intervalMs?: number, onProgress?: (batch: BatchObject) => void, signal?: AbortSignal } = {}): Promise<BatchObject> {
    const final = new Set(['completed', 'failed', 'expired', 'cancelled'])
    for (;;) {
      const batch = await this.getBatch(id)
      options.onProgress?.(batch)
      if (final.has(batch.status)) return batch
      options.signal?.throwIfAborted()
      await new Promise(resolve => setTimeout(resolve, options.intervalMs ?? 500))
    }
  }
}
