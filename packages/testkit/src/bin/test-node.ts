/**
 * `dria-test-node '<json config>'`: the real node daemon around a synthetic or cheating engine,
 * as a real process, for e2e tests and benchmarks. It logs like `dria-node` ("node ready").
 */
import '@dria/protocol/polyfill'
import type { InferenceEngine } from '@dria/engines'
import { startNodeDaemon } from '@dria/node'
import { createLogger, runService } from '@dria/protocol'
import { cheatingEngine } from '../faults/index.js'
import type { Cheat, VerifierCheat } from '../faults/index.js'
import { createSyntheticEngine } from '../synthetic/index.js'
import type { SyntheticModel } from '../synthetic/index.js'

export interface TestNodeConfig {
  dataDir: string
  bootstrap: string[]
  slots?: number
  queueDepth?: number
  engine:
  | { type: 'llamacpp', modelsDir: string, models?: string[], threads?: number }
  | { type: 'synthetic', models: SyntheticModel[], tokensPerSecond?: number }
  cheat?: Cheat
  verifier?: VerifierCheat
  /** Dies (SIGKILL) after finishing this many tasks. */
  crashAfter?: number
  /** Hangs up every connection this often (it redials its bootstrap peers). */
  flapEveryMs?: number
  /** Hangs up every connection after each this many finished tasks (a cheater hoping strikes live on connections). */
  flapEveryTasks?: number
}

const config = JSON.parse(process.argv[2]) as TestNodeConfig
const logger = createLogger('dria-test-node', process.env.DRIA_LOG_LEVEL ?? 'info')

await runService(logger, 'test node failed to start', async () => {
  const slots = config.slots ?? 4
  const base: InferenceEngine = config.engine.type === 'synthetic'
    ? createSyntheticEngine({ models: config.engine.models, tokensPerSecond: config.engine.tokensPerSecond })
    // Loaded only when needed: node-llama-cpp takes a second or two to import.
    : await (await import('@dria/engines')).createLlamaCppEngine({ logger }, { modelsDir: config.engine.modelsDir, models: config.engine.models, threads: config.engine.threads ?? 1, slots })
  const engine = config.cheat === undefined && config.verifier === undefined ? base : cheatingEngine(base, config.cheat, config.verifier)
  let finished = 0
  let daemon: Awaited<ReturnType<typeof startNodeDaemon>> | undefined
  const hangUp = (): void => {
    for (const connection of daemon?.host.getConnections() ?? []) void connection.close().catch(() => {})
  }
  daemon = await startNodeDaemon({ logger, engine }, {
    dataDir: config.dataDir,
    bootstrap: config.bootstrap,
    slots,
    queueDepth: config.queueDepth,
    statusPort: 0,
    observer: {
      taskFinished () {
        finished++
        if (config.crashAfter !== undefined && finished >= config.crashAfter) process.kill(process.pid, 'SIGKILL')
        // After the answer is on its way.
        if (config.flapEveryTasks !== undefined && finished % config.flapEveryTasks === 0) setTimeout(hangUp, 20)
      }
    }
  })
  if (config.flapEveryMs !== undefined) {
    const timer = setInterval(hangUp, config.flapEveryMs)
    timer.unref()
  }
  return daemon
})
