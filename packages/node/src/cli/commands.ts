import { join } from 'node:path'
import { createLogger, isDriaError, runService } from '@dria/protocol'
import type { LogFormat } from '@dria/protocol'
import type { GpuChoice } from '@dria/engines'
import type { Command, OptionValues } from 'commander'
import { defaultThreads } from '@dria/engines'
import { CONFIG_FILE, STATUS_HOST } from '../constants.js'
import { applyConfig, configPathOf, readConfig } from '../config/index.js'
import type { NodeConfig } from '../config/index.js'
import { startNodeDaemon } from '../daemon.js'
import { modelsDirOf, openEngine } from '../engine/index.js'
import { resolveCoordinatorUrl } from '../network/index.js'
import type { EngineChoice } from '../engine/index.js'
import { benchmarkModels, renderBenchmark, renderSetup, runSetup } from '../setup/index.js'
import { fetchModels, fetchStatus, renderModels, renderStatus } from '../status/index.js'

interface EngineOptions {
  dataDir: string
  engine: EngineChoice
  ollamaHost: string
  models?: string[]
  modelsDir?: string
  pull: boolean
  demoModel: boolean
  gpu: GpuChoice
  slots: number
  queueDepth?: number
  threads?: number
  minTps: number
  logLevel: string
  logFormat: LogFormat
}

interface StartOptions extends EngineOptions {
  coordinatorUrl?: string
  bootstrap: string[]
  p2pPort: number
  host: string
  announce: string[]
  statusPort: number
  connectWarnMs: number
  metricsPort?: number
}

/** Reads `--config` (or `<data-dir>/config.json`) into the command's unset options; returns the options. */
async function withConfig<T extends OptionValues> (command: Command): Promise<T> {
  const opts = command.opts<{ config?: string, dataDir: string }>()
  const path = configPathOf(opts.config, opts.dataDir)
  if (path !== undefined) applyConfig(command, await readConfig(path))
  return command.opts<T>()
}

/** A one-shot command: a coded failure is one line on stderr and exit code 1. */
async function oneShot (run: () => Promise<void>): Promise<void> {
  try {
    await run()
  } catch (err) {
    if (!isDriaError(err)) throw err
    process.stderr.write(`dria-node: ${err.message} [${err.code}]\n`)
    process.exitCode = 1
  }
}

const print = (text: string): void => { process.stdout.write(text + '\n') }

export async function startCommand (command: Command): Promise<void> {
  let opts: StartOptions
  try {
    opts = await withConfig<StartOptions>(command)
  } catch (err) {
    // The logger's format may come from the config: a broken config is reported plainly.
    await oneShot(async () => { throw err })
    return
  }
  const logger = createLogger('dria-node', opts.logLevel, opts.logFormat)
  await runService(logger, 'node failed to start', async () => await startNodeDaemon({ logger }, {
    dataDir: opts.dataDir,
    bootstrap: [...opts.bootstrap, ...(opts.coordinatorUrl !== undefined ? await resolveCoordinatorUrl({ logger }, opts.coordinatorUrl) : [])],
    p2pPort: opts.p2pPort,
    listenHost: opts.host,
    announce: opts.announce,
    engine: opts.engine,
    ollamaHost: opts.ollamaHost,
    models: opts.models,
    modelsDir: opts.modelsDir,
    pull: opts.pull,
    demoModel: opts.demoModel,
    gpu: opts.gpu,
    slots: opts.slots,
    queueDepth: opts.queueDepth,
    threads: opts.threads,
    minTps: opts.minTps,
    statusPort: opts.statusPort,
    connectWarnMs: opts.connectWarnMs,
    metricsPort: opts.metricsPort
  }))
}

/** Settings given to `setup` on the command line or in the environment that `start` keeps. */
const KEPT = ['coordinatorUrl', 'bootstrap', 'p2pPort', 'host', 'announce', 'statusPort'] as const

export async function setupCommand (command: Command): Promise<void> {
  await oneShot(async () => {
    const opts = command.opts<StartOptions & { config?: string, rounds: number, json: boolean }>()
    const logger = createLogger('dria-node', opts.logLevel, opts.logFormat, 2)
    const keep: NodeConfig = {}
    for (const key of KEPT) if (command.getOptionValueSource(key) !== 'default') keep[key] = opts[key]
    const report = await runSetup({ logger }, {
      engine: opts.engine,
      ollamaHost: opts.ollamaHost,
      modelsDir: modelsDirOf(opts.dataDir, opts.modelsDir),
      models: opts.models,
      threads: opts.threads ?? defaultThreads(),
      slots: opts.slots,
      gpu: opts.gpu,
      demoModel: opts.demoModel,
      pull: opts.pull,
      minTps: opts.minTps,
      rounds: opts.rounds,
      configPath: opts.config ?? join(opts.dataDir, CONFIG_FILE),
      keep
    })
    print(opts.json ? JSON.stringify(report, null, 2) : renderSetup(report))
  })
}

export async function benchmarkCommand (command: Command): Promise<void> {
  await oneShot(async () => {
    const opts = await withConfig<EngineOptions & { rounds: number, json: boolean }>(command)
    const logger = createLogger('dria-node', opts.logLevel, opts.logFormat, 2)
    const opened = await openEngine({ logger }, {
      engine: opts.engine,
      ollamaHost: opts.ollamaHost,
      modelsDir: modelsDirOf(opts.dataDir, opts.modelsDir),
      models: opts.models,
      threads: opts.threads,
      slots: opts.slots,
      gpu: opts.gpu,
      demoModel: opts.demoModel,
      pull: opts.pull
    })
    try {
      const results = await benchmarkModels(opened.engine, opts.rounds)
      print(opts.json ? JSON.stringify({ engine: opened.engine.name, models: results }, null, 2) : [`engine: ${opened.engine.name}`, ...renderBenchmark(results)].join('\n'))
    } finally {
      await opened.engine.close()
    }
  })
}

export async function statusCommand (command: Command, what: 'status' | 'models'): Promise<void> {
  await oneShot(async () => {
    const opts = await withConfig<{ statusPort: number, json: boolean }>(command)
    const base = `http://${STATUS_HOST}:${opts.statusPort}`
    if (what === 'status') {
      const status = await fetchStatus(base)
      print(opts.json ? JSON.stringify(status, null, 2) : renderStatus(status))
    } else {
      const models = await fetchModels(base)
      print(opts.json ? JSON.stringify(models, null, 2) : renderModels(models))
    }
  })
}
