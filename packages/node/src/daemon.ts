import { join } from 'node:path'
import { createDiscovery, createDriaHost, createSessionServer } from '@dria/p2p'
import type { InferenceEngine } from '@dria/engines'
import { PROTOCOL_VERSION, SESSION_VERSIONS } from '@dria/protocol'
import type { Hello, Logger } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import { createAdvertiser, modelCapacities } from './advertising/index.js'
import {
  DEFAULT_ADVERTISE_INTERVAL_MS, DEFAULT_MIN_TPS, DEFAULT_OLLAMA_HOST, DEFAULT_REPROVIDE_INTERVAL_MS,
  DEFAULT_METRICS_HOST, DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_SLOTS, DEFAULT_TASK_TIMEOUT_MS, IDENTITY_FILE
} from './constants.js'
import { openEngine, selectModels } from './engine/index.js'
import type { EngineChoice, ServedModel } from './engine/index.js'
import { loadOrCreatePrivateKey } from '@dria/protocol'
import { createNodeMetrics, metricsObserver, startMetricsServer } from './metrics/index.js'
import { WorkQueue, combineObservers, createSessionHandler, createTaskRunner } from './tasks/index.js'
import type { TaskObserver } from './tasks/index.js'
import { scorerOf } from './tasks/score-task.js'

export interface NodeDaemonInit {
  dataDir: string
  /** Multiaddrs of peers to join the network through. */
  bootstrap?: string[]
  /** TCP port for libp2p; 0 picks a free one. */
  p2pPort?: number
  /** Interface to listen on. Default 127.0.0.1. */
  listenHost?: string
  /** Default `auto`: Ollama if reachable, llama.cpp otherwise. */
  engine?: EngineChoice
  ollamaHost?: string
  /** Models to serve; default every model the engine has. */
  models?: string[]
  /** GGUF directory for llama.cpp; default `<dataDir>/models`. */
  modelsDir?: string
  slots?: number
  /** Tasks accepted ahead of the slots, so an engine slot never waits on the network. Default: as many as slots. */
  queueDepth?: number
  threads?: number
  minTps?: number
  advertiseIntervalMs?: number
  shutdownGraceMs?: number
  /** Told about every finished task and every coordinator report (status pages, metrics). */
  observer?: TaskObserver
  /** Serves Prometheus metrics on this port (on `listenHost`); off when absent. */
  metricsPort?: number
}

export interface NodeDaemon {
  readonly host: DriaHost
  readonly models: ServedModel[]
  readonly queue: WorkQueue
  /** Where Prometheus scrapes the node, when `metricsPort` is set. */
  readonly metricsUrl?: string
  /** Finishes in-flight tasks (up to the grace period), hands back the rest, then stops. */
  stop(): Promise<void>
}

export interface NodeDaemonComponents {
  logger: Logger
  /** An engine already open (tests and benchmarks inject synthetic or faulty ones); default: opened from `init`. */
  engine?: InferenceEngine
}

/** Starts a node: identity, libp2p host, engine, measured models, task server, advertising. */
export async function startNodeDaemon (components: NodeDaemonComponents, init: NodeDaemonInit): Promise<NodeDaemon> {
  const log = components.logger
  const slots = init.slots ?? DEFAULT_SLOTS
  const queue = new WorkQueue({ slots, queueDepth: init.queueDepth ?? slots })
  const privateKey = await loadOrCreatePrivateKey(join(init.dataDir, IDENTITY_FILE))
  const metrics = init.metricsPort === undefined ? null : createNodeMetrics({ queue })

  // The host and the engine start independently; overlapping them shortens time-to-advertised.
  const [host, engine] = await Promise.all([
    createDriaHost({ privateKey, listenHost: init.listenHost, listenPort: init.p2pPort ?? 0, bootstrap: init.bootstrap, metrics: metrics?.libp2p }),
    components.engine ?? openEngine(components, {
      engine: init.engine ?? 'auto',
      ollamaHost: init.ollamaHost ?? DEFAULT_OLLAMA_HOST,
      modelsDir: init.modelsDir ?? join(init.dataDir, 'models'),
      models: init.models,
      threads: init.threads,
      slots
    })
  ])
  let models: ServedModel[]
  try {
    models = await selectModels({ engine, logger: log }, { models: init.models, minTps: init.minTps ?? DEFAULT_MIN_TPS })
  } catch (err) {
    await Promise.all([engine.close(), host.stop()])
    throw err
  }

  const capacities = modelCapacities(models, { canScore: scorerOf(engine) !== undefined })
  const runner = createTaskRunner({ engine, privateKey, logger: log }, { models: new Map(models.map(m => [m.info.name, m.info])) })
  const observer = combineObservers([init.observer, metrics === null ? undefined : metricsObserver(metrics)])
  const sessions = createSessionHandler({ runner, queue, logger: log, observer }, { defaultTimeoutMs: DEFAULT_TASK_TIMEOUT_MS })
  const hello = (): Hello => ({
    versions: [...SESSION_VERSIONS],
    agent: `dria-node/${PROTOCOL_VERSION}`,
    slots: queue.slots,
    queueDepth: queue.queueDepth,
    engine: engine.name,
    models: capacities
  })
  const server = createSessionServer({ host, logger: log }, { hello, onSession: session => { sessions.attach(session) } })
  await server.start()

  const discovery = createDiscovery({ host, logger: log })
  const advertiser = createAdvertiser({ host, discovery, privateKey, queue, logger: log }, {
    models: capacities,
    engine: engine.name,
    intervalMs: init.advertiseIntervalMs ?? DEFAULT_ADVERTISE_INTERVAL_MS,
    reprovideIntervalMs: DEFAULT_REPROVIDE_INTERVAL_MS
  })
  await advertiser.start()
  models.forEach(m => { metrics?.modelTokensPerSecond.set({ model: m.info.name }, m.tokensPerSecond) })
  const metricsServer = metrics === null || init.metricsPort === undefined
    ? undefined
    : await startMetricsServer({ registry: metrics.registry, logger: log }, { host: init.listenHost ?? DEFAULT_METRICS_HOST, port: init.metricsPort })
  log.info({
    peerId: host.peerId.toString(),
    multiaddrs: host.getMultiaddrs().map(ma => ma.toString()),
    models: models.map(m => m.info.name),
    slots: queue.slots,
    queueDepth: queue.queueDepth
  }, 'node ready')

  return {
    host,
    models,
    queue,
    metricsUrl: metricsServer?.url,
    async stop () {
      sessions.close()
      advertiser.stop()
      await stopEngineGracefully(engine, queue, init.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS, log)
      // The last answers (results or handed-back errors) leave with the next write.
      await new Promise(resolve => setTimeout(resolve, 50))
      await server.stop()
      await host.stop()
      await metricsServer?.close()
      log.info('node stopped')
    }
  }
}

/** Lets running tasks finish; past the grace period aborts them so their results go back as retryable errors. */
async function stopEngineGracefully (engine: InferenceEngine, queue: WorkQueue, graceMs: number, log: Logger): Promise<void> {
  if (queue.running + queue.waiting > 0) {
    log.info({ inFlight: queue.running, queued: queue.waiting, graceMs }, 'waiting for in-flight tasks')
    const timer = setTimeout(() => {
      log.warn({ inFlight: queue.running }, 'grace period over: aborting in-flight tasks')
      engine.abort()
    }, graceMs)
    await queue.drained()
    clearTimeout(timer)
  }
  await engine.close()
}
