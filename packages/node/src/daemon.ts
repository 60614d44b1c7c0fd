import { join } from 'node:path'
import { createDiscovery, createSessionServer } from '@dria/p2p'
import type { GpuChoice, InferenceEngine } from '@dria/engines'
import { PROTOCOL_VERSION, SESSION_VERSIONS } from '@dria/protocol'
import type { Hello, Logger } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import { createAdvertiser, modelCapacities } from './advertising/index.js'
import {
  DEFAULT_ADVERTISE_INTERVAL_MS, DEFAULT_CONNECT_WARN_MS, DEFAULT_GPU, DEFAULT_MIN_TPS, DEFAULT_OLLAMA_HOST, DEFAULT_REPROVIDE_INTERVAL_MS,
  DEFAULT_METRICS_HOST, DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_SLOTS, DEFAULT_STATUS_PORT, DEFAULT_TASK_TIMEOUT_MS, IDENTITY_FILE
} from './constants.js'
import { describeProbes, modelsDirOf, openEngine, selectModels } from './engine/index.js'
import type { EngineChoice, OpenedEngine, ServedModel } from './engine/index.js'
import { loadOrCreatePrivateKey } from '@dria/protocol'
import { createNodeMetrics, metricsObserver, startMetricsServer } from './metrics/index.js'
import { openHostWith, validateAnnounce, validateBootstrap, watchConnectivity } from './network/index.js'
import { createNodeStatus, startStatusServer, statusObserver } from './status/index.js'
import type { NodeStatus } from './status/index.js'
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
  /** llama.cpp's GPU use; default `auto`. */
  gpu?: GpuChoice
  /** With nothing else to serve, serve the generated demo model (default false). */
  demoModel?: boolean
  /** Ollama pulls the `models` it lacks before the node starts (default false). */
  pull?: boolean
  /** Addresses peers should dial instead of the listen addresses (NAT, port forwarding). */
  announce?: string[]
  /** Loopback port of the status endpoint; default 4100, 0 picks a free one. */
  statusPort?: number
  /** Warn when no peer has been connected this long, and again at this interval; default 30 s. */
  connectWarnMs?: number
  /** Told about every finished task and every coordinator report, besides the status page. */
  observer?: TaskObserver
  /** Serves Prometheus metrics on this port (on `listenHost`); off when absent. */
  metricsPort?: number
  advertiseIntervalMs?: number
  shutdownGraceMs?: number
}

export interface NodeDaemon {
  readonly host: DriaHost
  readonly models: ServedModel[]
  readonly queue: WorkQueue
  /** Counters and the coordinators' reports of this node. */
  readonly status: NodeStatus
  /** Base URL of the loopback status endpoint. */
  readonly statusUrl: string
  /** Where Prometheus scrapes the node, when `metricsPort` is set. */
  readonly metricsUrl?: string
  /** Finishes in-flight tasks (up to the grace period), hands back the rest, then stops. */
  stop(): Promise<void>
}

export interface NodeDaemonComponents {
  logger: Logger
  /** An engine already open (tests and benchmarks inject synthetic or faulty ones); default: found and opened from `init`. */
  engine?: InferenceEngine
}

/** Starts a node: identity, libp2p host, engine, measured models, task sessions, advertising. */
export async function startNodeDaemon (components: NodeDaemonComponents, init: NodeDaemonInit): Promise<NodeDaemon> {
  const log = components.logger
  const bootstrap = init.bootstrap ?? []
  validateBootstrap(bootstrap)
  validateAnnounce(init.announce ?? [])
  const slots = init.slots ?? DEFAULT_SLOTS
  const queue = new WorkQueue({ slots, queueDepth: init.queueDepth ?? slots })
  const privateKey = await loadOrCreatePrivateKey(join(init.dataDir, IDENTITY_FILE))
  const listenHost = init.listenHost ?? '127.0.0.1'
  const listenPort = init.p2pPort ?? 0
  const metrics = init.metricsPort === undefined ? null : createNodeMetrics({ queue })

  // The host and the engine start independently; overlapping them shortens time-to-advertised.
  const injected = components.engine
  const opening: Promise<OpenedEngine> = injected !== undefined
    ? Promise.resolve({ engine: injected, plan: { engine: injected.name, pull: [], generate: false }, probes: {} })
    : openEngine(components, {
    engine: init.engine ?? 'auto',
    ollamaHost: init.ollamaHost ?? DEFAULT_OLLAMA_HOST,
    modelsDir: modelsDirOf(init.dataDir, init.modelsDir),
    models: init.models,
    threads: init.threads,
      slots,
      gpu: init.gpu ?? DEFAULT_GPU,
      demoModel: init.demoModel ?? false,
      pull: init.pull ?? false
    })
  const { host, other: opened } = await openHostWith({ privateKey, listenHost, listenPort, bootstrap, announce: init.announce, metrics: metrics?.libp2p }, opening, async ({ engine }) => { await engine.close() })
  const { engine } = opened
  let models: ServedModel[]
  let status: NodeStatus
  let statusServer: Awaited<ReturnType<typeof startStatusServer>>
  try {
    const selection = await selectModels({ engine, logger: log }, { opened, minTps: init.minTps ?? DEFAULT_MIN_TPS })
    models = selection.served
    status = createNodeStatus({ host, queue }, { engine: engine.name, models: selection.entries, bootstrap })
    statusServer = await startStatusServer({ status }, {
      port: init.statusPort ?? DEFAULT_STATUS_PORT,
      tried: describeProbes(opened.probes.ollama, opened.probes.modelsDir)
    })
  } catch (err) {
    await Promise.all([engine.close(), host.stop()])
    throw err
  }

  const capacities = modelCapacities(models, { canScore: scorerOf(engine) !== undefined })
  const runner = createTaskRunner({ engine, privateKey, logger: log }, { models: new Map(models.map(m => [m.info.name, m.info])) })
  const observer = combineObservers([statusObserver(status, log), init.observer, metrics === null ? undefined : metricsObserver(metrics)])
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
  const connectivity = watchConnectivity({ host, logger: log }, { bootstrap, warnAfterMs: init.connectWarnMs ?? DEFAULT_CONNECT_WARN_MS })
  log.info({
    peerId: host.peerId.toString(),
    multiaddrs: host.getMultiaddrs().map(ma => ma.toString()),
    models: models.map(m => m.info.name),
    slots: queue.slots,
    queueDepth: queue.queueDepth,
    statusUrl: statusServer.url
  }, 'node ready')

  return {
    host,
    models,
    queue,
    status,
    statusUrl: statusServer.url,
    metricsUrl: metricsServer?.url,
    async stop () {
      sessions.close()
      advertiser.stop()
      connectivity.stop()
      await statusServer.close()
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
