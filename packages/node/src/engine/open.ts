import { join } from 'node:path'
import { createLlamaCppEngine, createOllamaEngine, ensureGeneratedModel, pullOllamaModel } from '@dria/engines'
import { isDriaError } from '@dria/protocol'
import type { GpuChoice, InferenceEngine, PullProgress } from '@dria/engines'
import type { Logger } from '@dria/protocol'
import { PULL_PROGRESS_STEP_PERCENT } from '../constants.js'
import { NodeErrorCode, nodeError } from '../errors.js'
import { chooseEngine } from './choose.js'
import type { EngineChoice, EnginePlan } from './choose.js'
import { probeModelsDir, probeOllama } from './probe.js'
import type { ModelsDirProbe, OllamaProbe } from './probe.js'

export interface OpenEngineInit {
  engine: EngineChoice
  ollamaHost: string
  modelsDir: string
  /** Only these models are served (default: all found). */
  models?: string[]
  threads?: number
  slots: number
  /** llama.cpp only; Ollama manages its own GPUs. */
  gpu: GpuChoice
  /** Serve the generated model when nothing else is found. */
  demoModel: boolean
  /** Let Ollama pull the `models` it lacks. */
  pull: boolean
}

export interface OpenedEngine {
  engine: InferenceEngine
  plan: EnginePlan
  /** What was looked at, for `dria-node models`. */
  probes: { ollama?: OllamaProbe, modelsDir?: ModelsDirProbe }
}

/** Logs pull progress at each new status and every few percent, not at every chunk. */
function progressLogger (log: Logger, model: string): (progress: PullProgress) => void {
  let status = ''
  let step = -1
  return (progress) => {
    const percent = progress.total !== undefined && progress.completed !== undefined ? Math.floor(progress.completed / progress.total * 100) : undefined
    const nextStep = percent === undefined ? -1 : Math.floor(percent / PULL_PROGRESS_STEP_PERCENT)
    if (progress.status === status && nextStep === step) return
    status = progress.status
    step = nextStep
    log.info({ model, status: progress.status, percent }, 'pulling model')
  }
}

async function pullModels (log: Logger, host: string, models: string[]): Promise<void> {
  for (const model of models) {
    try {
      await pullOllamaModel(host, model, { onProgress: progressLogger(log, model) })
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      throw nodeError(NodeErrorCode.PULL_FAILED, `Ollama at ${host} could not pull ${model} (${reason}): check the name on ollama.com/library and Ollama's network access`, err)
    }
    log.info({ model }, 'model pulled')
  }
}

async function openLlamaCpp (components: { logger: Logger }, init: OpenEngineInit): Promise<InferenceEngine> {
  try {
    return await createLlamaCppEngine(components, { modelsDir: init.modelsDir, models: init.models, threads: init.threads, slots: init.slots, gpu: init.gpu })
  } catch (err) {
    if (!isDriaError(err, 'GPU_UNAVAILABLE')) throw err
    throw nodeError(NodeErrorCode.GPU_UNAVAILABLE, `--gpu ${init.gpu}: llama.cpp has no working ${init.gpu} build here: install its prebuilt binaries with \`node scripts/install-gpu.js ${init.gpu}\` (needs the ${init.gpu === 'cuda' ? 'NVIDIA driver' : 'Vulkan driver'}), or use --gpu auto`, err)
  }
}

/**
 * Finds what this machine can serve (Ollama and its models, GGUF files), decides on an
 * engine, pulls or generates what the plan needs, and opens the engine.
 */
export async function openEngine (components: { logger: Logger }, init: OpenEngineInit): Promise<OpenedEngine> {
  const log = components.logger.child({ module: 'engine' })
  const modelsDir = init.modelsDir
  const [ollama, dir] = await Promise.all([
    init.engine === 'llamacpp' ? undefined : probeOllama(components, init.ollamaHost),
    init.engine === 'ollama' ? undefined : probeModelsDir(modelsDir)
  ])
  const plan = chooseEngine({ engine: init.engine, models: init.models, demoModel: init.demoModel, pull: init.pull }, ollama, dir)
  const probes = { ollama, modelsDir: dir }
  if (plan.engine === 'ollama') {
    await pullModels(log, init.ollamaHost, plan.pull)
    log.info({ host: init.ollamaHost }, 'using ollama engine')
    return { engine: createOllamaEngine(components, { host: init.ollamaHost, models: init.models }), plan, probes }
  }
  if (plan.generate) {
    const path = await ensureGeneratedModel(modelsDir)
    log.warn({ path }, 'serving the generated demo model (--demo-model): it writes word-like noise')
  }
  log.info({ modelsDir, threads: init.threads, slots: init.slots, gpu: init.gpu }, 'using llama.cpp engine')
  return { engine: await openLlamaCpp(components, init), plan, probes }
}

/** `<dataDir>/models` unless `--models-dir` says otherwise. */
export function modelsDirOf (dataDir: string, modelsDir: string | undefined): string {
  return modelsDir ?? join(dataDir, 'models')
}
