import { setTimeout as sleep } from 'node:timers/promises'
import { isDriaError } from '@dria/protocol'
import { Ollama } from 'ollama'
import { EngineCalls } from '../calls.js'
import { modelNotFound } from '../errors.js'
import { DEFAULT_RETRIES, DEFAULT_RETRY_BASE_MS } from './constants.js'
import { fromOllamaError, isBusy } from './errors.js'
import { architectureInfo, modelKind, modelMedia, shortName, toOllamaMessages, toOllamaParams, toResult } from './wire.js'
import type { CallOptions, InferenceEngine, ModelInfo } from '../types.js'
import type {
  ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, GenerationResult, Logger
} from '@dria/protocol'
import type { AbortableAsyncIterator } from 'ollama'

export interface OllamaEngineComponents {
  logger: Logger
}

export interface OllamaEngineInit {
  /** Ollama's base URL, e.g. `http://127.0.0.1:11434`. */
  host: string
  /** Serve only these models (default: every model Ollama has). Names as listed, without `:latest`. */
  models?: string[]
  /** Retries of a 503 "server busy" answer before failing with `ENGINE_BUSY` (default 4). */
  retries?: number
  /** First retry delay in ms, doubled on each retry (default 250). */
  retryBaseMs?: number
}

export interface OllamaEngine extends InferenceEngine {
  readonly name: 'ollama'
}

/** A client whose every request carries `signal`: ollama-js can only abort streamed calls itself. */
function clientFor (host: string, signal: AbortSignal): Ollama {
  return new Ollama({
    host,
    fetch: async (input, init) => await fetch(input, { ...init, signal: init?.signal == null ? signal : AbortSignal.any([signal, init.signal]) })
  })
}

/** Concatenates a streamed answer; the final chunk carries the counts and the done reason. */
async function collect<T extends { done: boolean }> (stream: AbortableAsyncIterator<T>, text: (part: T) => string): Promise<{ text: string, final: T }> {
  let collected = ''
  for await (const part of stream) {
    collected += text(part)
    if (part.done) return { text: collected, final: part }
  }
  throw new Error('ollama ended the stream without a final chunk')
}

class OllamaClientEngine implements OllamaEngine {
  readonly name = 'ollama'
  private readonly host: string
  private readonly models?: Set<string>
  private readonly retries: number
  private readonly retryBaseMs: number
  private readonly calls = new EngineCalls()
  private readonly log: Logger

  constructor (log: Logger, init: OllamaEngineInit) {
    this.log = log
    this.host = init.host
    this.models = init.models !== undefined && init.models.length > 0 ? new Set(init.models.map(shortName)) : undefined
    this.retries = init.retries ?? DEFAULT_RETRIES
    this.retryBaseMs = init.retryBaseMs ?? DEFAULT_RETRY_BASE_MS
  }

  async listModels (): Promise<ModelInfo[]> {
    return await this.call(undefined, undefined, async (client) => {
      const { models } = await client.list()
      const infos = await Promise.all(models.map(async (model): Promise<ModelInfo> => {
        const show = await client.show({ model: model.name })
        const media = modelMedia(show)
        return {
          name: shortName(model.name),
          digest: `sha256:${model.digest}`,
          kind: modelKind(show, model.details),
          ...architectureInfo(show),
          sizeBytes: model.size,
          ...(media.length > 0 ? { media } : {})
        }
      }))
      if (this.models === undefined) return infos
      const names = infos.map(info => info.name)
      for (const wanted of this.models) if (!names.includes(wanted)) throw modelNotFound(wanted, names)
      return infos.filter(info => this.models?.has(info.name))
    })
  }

  async chat (request: ChatRequest, options?: CallOptions): Promise<GenerationResult> {
    return await this.call(request.model, options, async (client) => {
      // Streamed so a long generation never trips fetch's 5-minute wait for response headers.
      const stream = await client.chat({ model: request.model, messages: toOllamaMessages(request.messages), stream: true, ...toOllamaParams(request) })
      const { text, final } = await collect(stream, part => part.message.content)
      return toResult(text, final)
    })
  }

  async complete (request: CompletionRequest, options?: CallOptions): Promise<GenerationResult> {
    return await this.call(request.model, options, async (client) => {
      // raw: the prompt is continued as is, without the model's chat template.
      const stream = await client.generate({ model: request.model, prompt: request.prompt, raw: true, stream: true, ...toOllamaParams(request) })
      const { text, final } = await collect(stream, part => part.response ?? '')
      return toResult(text, final)
    })
  }

  async embed (request: EmbeddingRequest, options?: CallOptions): Promise<EmbeddingResult> {
    return await this.call(request.model, options, async (client) => {
      // truncate: false makes Ollama refuse over-long inputs instead of embedding a prefix.
      const response = await client.embed({ model: request.model, input: request.input, truncate: false })
      return { embeddings: response.embeddings, usage: { promptTokens: response.prompt_eval_count ?? 0, completionTokens: 0 } }
    })
  }

  abort (): void {
    this.calls.abortAll()
  }

  async close (): Promise<void> {
    this.calls.abortAll()
    await this.calls.drain()
  }

  /**
   * One call to Ollama: checked against the model filter, abortable, with 503 answers retried
   * after exponential backoff, and failures turned into coded errors.
   */
  private async call<T> (model: string | undefined, options: CallOptions | undefined, request: (client: Ollama) => Promise<T>): Promise<T> {
    if (model !== undefined && this.models !== undefined && !this.models.has(shortName(model))) {
      throw modelNotFound(model, [...this.models])
    }
    return await this.calls.run(options?.signal, async (signal) => {
      const client = clientFor(this.host, signal)
      for (let attempt = 0; ; attempt++) {
        try {
          return await request(client)
        } catch (err) {
          if (signal.aborted || isDriaError(err)) throw err
          if (!isBusy(err) || attempt >= this.retries) {
            this.log.debug({ model, err }, 'ollama call failed')
            throw fromOllamaError(err, attempt)
          }
          const delay = this.retryBaseMs * 2 ** attempt
          this.log.debug({ model, attempt, delay }, 'ollama busy, retrying')
          await sleep(delay, undefined, { signal })
        }
      }
    })
  }
}

/** An engine that runs requests on an Ollama server through its native API (not `/v1`). */
export function createOllamaEngine (components: OllamaEngineComponents, init: OllamaEngineInit): OllamaEngine {
  return new OllamaClientEngine(components.logger.child({ module: 'ollama' }), init)
}
