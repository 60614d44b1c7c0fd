import { GENERATED_MODEL_NAME } from '@dria/engines'
import { NodeErrorCode, nodeError } from '../errors.js'
import { describeProbes } from './probe.js'
import type { ModelsDirProbe, OllamaProbe } from './probe.js'

export type EngineChoice = 'auto' | 'ollama' | 'llamacpp'

export interface EnginePlan {
  engine: 'ollama' | 'llamacpp'
  /** Models Ollama pulls before the node starts (`--pull`). */
  pull: string[]
  /** Whether the generated demo model is written into the models dir first (`--demo-model`). */
  generate: boolean
}

export interface ChooseEngineInit {
  engine: EngineChoice
  /** `--models`; undefined or empty: every model found. */
  models?: string[]
  /** `--demo-model`: with nothing else to serve, serve the generated model. */
  demoModel: boolean
  /** `--pull`: Ollama pulls the `--models` it lacks. */
  pull: boolean
}

const untagged = (name: string): string => name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name

const NO_MODELS_HINT = 'pull one into Ollama (`ollama pull <model>`), put .gguf files in --models-dir, or serve the generated demo model with --demo-model'

function unreachable (host: string): Error {
  return nodeError(NodeErrorCode.OLLAMA_UNREACHABLE, `Ollama at ${host} is unreachable: start it with \`ollama serve\`, point --ollama-host at it, or use --engine llamacpp`)
}

function notPulled (host: string, missing: string[]): Error {
  return nodeError(NodeErrorCode.MODEL_NOT_PULLED, `Ollama at ${host} has no model ${missing.join(', ')}: run ${missing.map(m => `\`ollama pull ${m}\``).join(' and ')}, or start with --pull`)
}

/**
 * Which engine serves what, from what was found: a pure decision, so every case is testable.
 * `auto` prefers Ollama when it has the wanted models (or any), then GGUF files, then (only
 * with `--demo-model`) the generated model; otherwise the error names every source tried.
 */
export function chooseEngine (init: ChooseEngineInit, ollama: OllamaProbe | undefined, dir: ModelsDirProbe | undefined): EnginePlan {
  const wanted = init.models !== undefined && init.models.length > 0 ? init.models.map(untagged) : undefined
  const ollamaNames = ollama?.models.map(m => untagged(m.name)) ?? []
  const dirNames = dir?.models ?? []
  const missingFrom = (names: string[]): string[] => wanted?.filter(name => !names.includes(name)) ?? []
  const covers = (names: string[]): boolean => wanted === undefined ? names.length > 0 : missingFrom(names).length === 0
  const ollamaPlan = (pull: string[]): EnginePlan => ({ engine: 'ollama', pull, generate: false })
  const llamaPlan = (generate: boolean): EnginePlan => ({ engine: 'llamacpp', pull: [], generate })
  // The generated model stands in only for itself, and only when asked for.
  const demoCovers = init.demoModel && missingFrom(dirNames).every(name => name === GENERATED_MODEL_NAME) && (wanted !== undefined || dirNames.length === 0)

  if (init.engine === 'ollama') {
    if (ollama === undefined || !ollama.reachable) throw unreachable(ollama?.host ?? 'the --ollama-host')
    if (wanted === undefined) {
      if (ollamaNames.length > 0) return ollamaPlan([])
      throw nodeError(NodeErrorCode.OLLAMA_NO_MODELS, `Ollama at ${ollama.host} has no models: pull one with \`ollama pull <model>\`, or start with --models <model> --pull`)
    }
    const missing = missingFrom(ollamaNames)
    if (missing.length > 0 && !init.pull) throw notPulled(ollama.host, missing)
    return ollamaPlan(missing)
  }

  if (init.engine === 'llamacpp') {
    if (covers(dirNames)) return llamaPlan(false)
    if (demoCovers) return llamaPlan(true)
    if (wanted !== undefined && dirNames.length > 0) {
      const missing = missingFrom(dirNames)
      throw nodeError(NodeErrorCode.MODEL_NOT_FOUND, `model ${missing.join(', ')} is not in ${dir?.path} (have: ${dirNames.join(', ')}): put ${missing.map(m => `${m}.gguf`).join(', ')} there or point --models-dir at it`)
    }
    throw nodeError(NodeErrorCode.NO_MODELS_FOUND, `no model to serve (${describeProbes(undefined, dir)}): ${NO_MODELS_HINT}`)
  }

  if (ollama?.reachable === true) {
    if (covers(ollamaNames)) return ollamaPlan([])
    if (init.pull && wanted !== undefined) return ollamaPlan(missingFrom(ollamaNames))
  }
  if (covers(dirNames)) return llamaPlan(false)
  if (demoCovers) return llamaPlan(true)
  // Ollama is up but lacks what was asked for: pulling is the fix.
  if (ollama?.reachable === true && wanted !== undefined) throw notPulled(ollama.host, missingFrom(ollamaNames))
  throw nodeError(NodeErrorCode.NO_MODELS_FOUND, `no model to serve (${describeProbes(ollama, dir)}): ${NO_MODELS_HINT}`)
}
