import { isDriaError } from '@dria/protocol'
import { EngineCalls } from '../calls.js'
import { engineFailed, modelNotFound } from '../errors.js'
import { loadBinding } from './binding.js'
import type { GpuChoice } from './binding.js'
import { SamplerId } from '../sampler/index.js'
import { DEFAULT_CONTEXT_SIZE, DEFAULT_SLOTS, defaultThreads } from './constants.js'
import { LoadedModel } from './loaded-model.js'
import { findModelFiles } from './model-files.js'
import type { ScoreReport, ScoreRequest } from '../scoring/types.js'
import type { CallOptions, InferenceEngine, ModelInfo } from '../types.js'
import type { LlamaCppSampler } from './loaded-model.js'
import type {
  ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, GenerationResult, Logger
} from '@dria/protocol'

export interface LlamaCppEngineComponents {
  logger: Logger
}

export interface LlamaCppEngineInit {
  /** Directory of `.gguf` files; each file is a model named after it (without `.gguf`). */
  modelsDir: string
  /** Serve only these models (default: every file in `modelsDir`). */
  models?: string[]
  /** Threads per context (default: half the cores, at least 1, at most 8). */
  threads?: number
  /** Requests each model runs concurrently (default 4); more wait in a queue. */
  slots?: number
  /** Upper bound on each request's context in tokens (default 4096, capped by the model's training context). */
  contextSize?: number
  /** Default `off` (CPU): `auto` uses a GPU when llama.cpp's GPU binaries are installed and find a device. */
  gpu?: GpuChoice
  /**
   * How tokens are chosen (default `dria-1`): the reproducible, verifiable dria-1 sampler, or
   * node-llama-cpp's own (`native`; no logprobs, only statistically verifiable).
   */
  sampler?: LlamaCppSampler
}

export interface LlamaCppEngine extends InferenceEngine {
  readonly name: 'llamacpp'
  score(request: ScoreRequest, options?: CallOptions): Promise<ScoreReport>
}

class LlamaCpp implements LlamaCppEngine {
  readonly name = 'llamacpp'
  private readonly models: Map<string, LoadedModel>
  private readonly calls = new EngineCalls()
  private readonly log: Logger

  constructor (models: LoadedModel[], log: Logger) {
    this.models = new Map(models.map(model => [model.info.name, model]))
    this.log = log
  }

  async listModels (): Promise<ModelInfo[]> {
    return [...this.models.values()].map(model => ({ ...model.info }))
  }

  async chat (request: ChatRequest, options?: CallOptions): Promise<GenerationResult> {
    return await this.call(request.model, options, async (model, signal) => await model.chat(request, signal))
  }

  async complete (request: CompletionRequest, options?: CallOptions): Promise<GenerationResult> {
    return await this.call(request.model, options, async (model, signal) => await model.complete(request, signal))
  }

  async embed (request: EmbeddingRequest, options?: CallOptions): Promise<EmbeddingResult> {
    return await this.call(request.model, options, async (model, signal) => await model.embed(request, signal))
  }

  async score (request: ScoreRequest, options?: CallOptions): Promise<ScoreReport> {
    return await this.call(request.request.model, options, async (model, signal) => await model.score(request, signal))
  }

  abort (): void {
    this.calls.abortAll()
  }

  async close (): Promise<void> {
    this.calls.abortAll()
    await this.calls.drain()
    await Promise.all([...this.models.values()].map(async model => { await model.dispose() }))
    this.models.clear()
    this.log.info('llama.cpp engine closed')
  }

  private async call<T> (name: string, options: CallOptions | undefined, run: (model: LoadedModel, signal: AbortSignal) => Promise<T>): Promise<T> {
    const model = this.models.get(name)
    if (model === undefined) throw modelNotFound(name, [...this.models.keys()])
    return await this.calls.run(options?.signal, async (signal) => {
      try {
        return await run(model, signal)
      } catch (err) {
        if (signal.aborted || isDriaError(err)) throw err
        this.log.warn({ model: name, err }, 'llama.cpp call failed')
        throw engineFailed(err)
      }
    })
  }
}

/**
 * An engine running GGUF models in-process with llama.cpp. Loads every model (hashing each
 * file for its digest) before it resolves.
 */
export async function createLlamaCppEngine (components: LlamaCppEngineComponents, init: LlamaCppEngineInit): Promise<LlamaCppEngine> {
  const log = components.logger.child({ module: 'llamacpp' })
  const files = await findModelFiles(init.modelsDir, init.models)
  const llama = await loadBinding(log, init.gpu)
  const modelInit = {
    threads: init.threads ?? defaultThreads(),
    slots: init.slots ?? DEFAULT_SLOTS,
    contextSize: init.contextSize ?? DEFAULT_CONTEXT_SIZE,
    sampler: init.sampler ?? SamplerId.DRIA
  }
  const loaded: LoadedModel[] = []
  try {
    for (const file of files) {
      const model = await LoadedModel.load(llama, file, modelInit)
      log.info({ model: model.info.name, digest: model.info.digest, kind: model.info.kind, contextLength: model.info.contextLength, ...modelInit }, 'model loaded')
      loaded.push(model)
    }
  } catch (err) {
    await Promise.allSettled(loaded.map(async model => { await model.dispose() }))
    throw err
  }
  return new LlamaCpp(loaded, log)
}
