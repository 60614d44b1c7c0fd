import { readdir } from 'node:fs/promises'
import {
  createLlamaCppEngine, createOllamaEngine, ensureGeneratedModel, isOllamaReachable, measureTokensPerSecond
} from '@dria/engines'
import { DriaError } from '@dria/protocol'
import type { InferenceEngine, ModelInfo } from '@dria/engines'
import type { Logger } from '@dria/protocol'

export type EngineChoice = 'auto' | 'ollama' | 'llamacpp'

export interface ServedModel {
  info: ModelInfo
  /** Single-sequence generation speed measured at start-up (0 for embedding models). */
  tokensPerSecond: number
}

export interface OpenEngineInit {
  engine: EngineChoice
  ollamaHost: string
  modelsDir: string
  /** Only these models are loaded (default: all). */
  models?: string[]
  threads?: number
  slots: number
}

async function hasGgufFiles (dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some(name => name.endsWith('.gguf'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Ollama when asked for or reachable; otherwise llama.cpp over the models dir. */
export async function openEngine (components: { logger: Logger }, init: OpenEngineInit): Promise<InferenceEngine> {
  const log = components.logger.child({ module: 'engine' })
  const useOllama = init.engine === 'ollama' ||
    (init.engine === 'auto' && await isOllamaReachable(init.ollamaHost, { timeoutMs: 1_000 }))
  if (useOllama) {
    log.info({ host: init.ollamaHost }, 'using ollama engine')
    return createOllamaEngine(components, { host: init.ollamaHost, models: init.models })
  }
  if (!await hasGgufFiles(init.modelsDir)) {
    // A fresh machine still runs real inference: generate the project's own tiny model.
    const path = await ensureGeneratedModel(init.modelsDir)
    log.info({ path }, 'no GGUF models found, generated a tiny model')
  }
  log.info({ modelsDir: init.modelsDir, threads: init.threads, slots: init.slots }, 'using llama.cpp engine')
  return await createLlamaCppEngine(components, { modelsDir: init.modelsDir, models: init.models, threads: init.threads, slots: init.slots })
}

/**
 * The models this node will advertise: the requested ones (all by default), each measured,
 * dropping those slower than `minTps` with a log line that says why.
 */
export async function selectModels (components: { engine: InferenceEngine, logger: Logger }, init: { models?: string[], minTps: number }): Promise<ServedModel[]> {
  const log = components.logger.child({ module: 'engine' })
  const available = await components.engine.listModels()
  const wanted = init.models !== undefined && init.models.length > 0 ? init.models : available.map(m => m.name)
  const served: ServedModel[] = []
  for (const name of wanted) {
    const info = available.find(m => m.name === name)
    if (info === undefined) {
      throw new DriaError('MODEL_NOT_FOUND', `model ${name} is not available (have: ${available.map(m => m.name).join(', ') || 'none'})`)
    }
    if (info.kind === 'embedding') {
      served.push({ info, tokensPerSecond: 0 })
      continue
    }
    const tokensPerSecond = await measureTokensPerSecond(components.engine, name)
    if (tokensPerSecond < init.minTps) {
      log.warn({ model: name, tokensPerSecond, minTps: init.minTps }, 'model dropped: slower than --min-tps')
      continue
    }
    log.info({ model: name, digest: info.digest, tokensPerSecond: Math.round(tokensPerSecond) }, 'model measured')
    served.push({ info, tokensPerSecond })
  }
  if (served.length === 0) throw new DriaError('NO_MODELS', 'no model is fast enough to serve (see --min-tps)')
  return served
}
