import { GENERATED_MODEL_NAME } from '@dria/engines'
import type { GpuChoice } from '@dria/engines'
import type { Logger } from '@dria/protocol'
import { writeConfig } from '../config/index.js'
import type { NodeConfig } from '../config/index.js'
import { describeProbes, openEngine } from '../engine/index.js'
import { NodeErrorCode, nodeError } from '../errors.js'
import type { EngineChoice, OpenedEngine } from '../engine/index.js'
import { benchmarkModels } from './benchmark.js'
import type { ModelBenchmark } from './benchmark.js'
import { detectHardware } from './hardware.js'
import type { Hardware } from './hardware.js'

export interface SetupInit {
  engine: EngineChoice
  ollamaHost: string
  modelsDir: string
  models?: string[]
  threads: number
  slots: number
  gpu: GpuChoice
  demoModel: boolean
  pull: boolean
  minTps: number
  rounds: number
  /** Where the config is written. */
  configPath: string
  /** Settings given to `setup` that `start` should keep (bootstrap, ports, announce…). */
  keep: NodeConfig
}

export interface SetupReport {
  hardware: Hardware
  /** Where models were looked for, one clause per source. */
  tried: string
  engine: 'ollama' | 'llamacpp'
  models: Array<ModelBenchmark & { served: boolean, reason?: string }>
  configPath: string
  config: NodeConfig
}

function configFor (init: SetupInit, opened: OpenedEngine, served: string[]): NodeConfig {
  const engine = opened.plan.engine
  return {
    _comment: `written by dria-node setup on ${new Date().toISOString()}; dria-node start reads it (flags and DRIA_* variables override it)`,
    ...init.keep,
    engine,
    ...(engine === 'ollama'
      ? { ollamaHost: init.ollamaHost }
      : { modelsDir: init.modelsDir, threads: init.threads, gpu: init.gpu }),
    models: served,
    slots: init.slots,
    ...(init.minTps > 0 ? { minTps: init.minTps } : {}),
    ...(served.includes(GENERATED_MODEL_NAME) && init.demoModel ? { demoModel: true } : {})
  }
}

/**
 * `dria-node setup`: what this machine has (cores, memory, GPUs), what it can serve (Ollama
 * and its models, GGUF files), how fast, and a config file `start` reads.
 */
export async function runSetup (components: { logger: Logger }, init: SetupInit): Promise<SetupReport> {
  const hardware = await detectHardware(components)
  const opened = await openEngine(components, init)
  try {
    const measured = await benchmarkModels(opened.engine, init.rounds)
    const models = measured.map(m => {
      const slow = m.kind !== 'embedding' && m.tokensPerSecond < init.minTps
      return { ...m, served: !slow, ...(slow ? { reason: `slower than --min-tps (${Math.round(m.tokensPerSecond)} < ${init.minTps} tokens/s)` } : {}) }
    })
    const served = models.filter(m => m.served).map(m => m.name)
    const config = configFor(init, opened, served)
    // With nothing fast enough the config would not start; say so instead of writing it.
    if (served.length === 0) {
      throw nodeError(NodeErrorCode.MODELS_TOO_SLOW, `every model is slower than --min-tps ${init.minTps} tokens/s (${models.map(m => `${m.name} ${Math.round(m.tokensPerSecond)}`).join(', ')}): lower --min-tps or serve faster models`)
    }
    await writeConfig(init.configPath, config)
    return { hardware, tried: describeProbes(opened.probes.ollama, opened.probes.modelsDir), engine: opened.plan.engine, models, configPath: init.configPath, config }
  } finally {
    await opened.engine.close()
  }
}
