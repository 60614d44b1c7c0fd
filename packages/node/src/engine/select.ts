import { measureTokensPerSecond } from '@dria/engines'
import type { InferenceEngine, ModelInfo } from '@dria/engines'
import type { Logger } from '@dria/protocol'
import { NodeErrorCode, nodeError } from '../errors.js'
import type { OpenedEngine } from './open.js'

export interface ServedModel {
  info: ModelInfo
  /** Single-sequence generation speed measured at start-up (0 for embedding models). */
  tokensPerSecond: number
}

/** A model this node found, served or not, and why not: what `dria-node models` shows. */
export interface ModelEntry {
  name: string
  engine: 'ollama' | 'llamacpp'
  served: boolean
  digest?: string
  kind?: ModelInfo['kind']
  /** Measured single-sequence speed (tokens/s), when measured. */
  tokensPerSecond?: number
  /** Why it is not served. */
  reason?: string
}

export interface ModelSelection {
  served: ServedModel[]
  entries: ModelEntry[]
}

/**
 * Measures every model the engine serves and keeps those at least `minTps` fast (embedding
 * models are not measured). Models found but left out (by `--models` or for speed) are listed
 * with the reason; with none left it fails with the measured speeds.
 */
export async function selectModels (components: { engine: InferenceEngine, logger: Logger }, init: { opened: OpenedEngine, minTps: number }): Promise<ModelSelection> {
  const { engine } = components
  const log = components.logger.child({ module: 'engine' })
  const served: ServedModel[] = []
  const entries: ModelEntry[] = []
  for (const info of await engine.listModels()) {
    const entry: ModelEntry = { name: info.name, engine: engine.name, served: false, digest: info.digest, kind: info.kind }
    entries.push(entry)
    const tokensPerSecond = info.kind === 'embedding' ? 0 : await measureTokensPerSecond(engine, info.name)
    if (info.kind !== 'embedding') entry.tokensPerSecond = tokensPerSecond
    if (info.kind !== 'embedding' && tokensPerSecond < init.minTps) {
      entry.reason = `slower than --min-tps (${Math.round(tokensPerSecond)} < ${init.minTps} tokens/s)`
      log.warn({ model: info.name, tokensPerSecond, minTps: init.minTps }, 'model dropped: slower than --min-tps')
      continue
    }
    entry.served = true
    log.info({ model: info.name, digest: info.digest, tokensPerSecond: Math.round(tokensPerSecond) }, 'model measured')
    served.push({ info, tokensPerSecond })
  }
  const { ollama, modelsDir } = init.opened.probes
  const found = engine.name === 'ollama' ? ollama?.models.map(m => m.name) ?? [] : modelsDir?.models ?? []
  for (const name of found) {
    if (!entries.some(entry => entry.name === name)) entries.push({ name, engine: engine.name, served: false, reason: 'not in --models' })
  }
  if (served.length === 0) {
    const speeds = entries.filter(e => e.tokensPerSecond !== undefined).map(e => `${e.name} ${Math.round(e.tokensPerSecond ?? 0)}`).join(', ')
    throw nodeError(NodeErrorCode.MODELS_TOO_SLOW, `every model is slower than --min-tps ${init.minTps} tokens/s (${speeds}): lower --min-tps or serve faster models`)
  }
  return { served, entries }
}
