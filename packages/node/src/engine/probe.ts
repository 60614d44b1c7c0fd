import { readdir } from 'node:fs/promises'
import { createOllamaEngine, isOllamaReachable } from '@dria/engines'
import type { ModelInfo } from '@dria/engines'
import type { Logger } from '@dria/protocol'
import { OLLAMA_PROBE_TIMEOUT_MS } from '../constants.js'

export interface OllamaProbe {
  host: string
  reachable: boolean
  /** Its models (names without `:latest`); empty when unreachable. */
  models: ModelInfo[]
}

export interface ModelsDirProbe {
  path: string
  exists: boolean
  /** Names of its `.gguf` files (without the extension), sorted. */
  models: string[]
}

const GGUF = '.gguf'

/** Whether Ollama answers at `host`, and what it has. */
export async function probeOllama (components: { logger: Logger }, host: string): Promise<OllamaProbe> {
  if (!await isOllamaReachable(host, { timeoutMs: OLLAMA_PROBE_TIMEOUT_MS })) return { host, reachable: false, models: [] }
  const engine = createOllamaEngine(components, { host, retries: 0 })
  try {
    return { host, reachable: true, models: await engine.listModels() }
  } finally {
    await engine.close()
  }
}

/** The GGUF files llama.cpp would serve from `path`. */
export async function probeModelsDir (path: string): Promise<ModelsDirProbe> {
  try {
    const models = (await readdir(path)).filter(name => name.endsWith(GGUF)).map(name => name.slice(0, -GGUF.length)).sort()
    return { path, exists: true, models }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path, exists: false, models: [] }
    throw err
  }
}

/** One line per source tried, for errors and `dria-node models`: `Ollama at <host>: unreachable`. */
export function describeProbes (ollama: OllamaProbe | undefined, dir: ModelsDirProbe | undefined): string {
  const tried: string[] = []
  if (ollama !== undefined) {
    tried.push(`Ollama at ${ollama.host}: ${!ollama.reachable ? 'unreachable' : ollama.models.length === 0 ? 'no models' : ollama.models.map(m => m.name).join(', ')}`)
  }
  if (dir !== undefined) {
    tried.push(`models dir ${dir.path}: ${!dir.exists ? 'does not exist' : dir.models.length === 0 ? 'no .gguf files' : dir.models.join(', ')}`)
  }
  return tried.join('; ')
}
