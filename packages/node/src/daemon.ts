import { join } from 'node:path'
import { createDiscovery, createDriaHost, createTaskServer } from '@dria/p2p'
import type { InferenceEngine } from '@dria/engines'
import type { Logger } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import { createAdvertiser } from './advertising/index.js'
import {
  DEFAULT_ADVERTISE_INTERVAL_MS, DEFAULT_MIN_TPS, DEFAULT_OLLAMA_HOST, DEFAULT_REPROVIDE_INTERVAL_MS,
  DEFAULT_METRICS_HOST, DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_SLOTS, DEFAULT_TASK_TIMEOUT_MS, IDENTITY_FILE
} from './constants.js'
import { openEngine, selectModels } from './engine/index.js'
import type { EngineChoice, ServedModel } from './engine/index.js'
import { loadOrCreatePrivateKey } from '@dria/protocol'
import { createNodeMetrics, instrumentTaskHandler, startMetricsServer } from './metrics/index.js'
import { Slots } from './slots.js'
import { createTaskHandler } from './tasks/index.js'

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
  threads?: number
  minTps?: number
  advertiseIntervalMs?: number
  shutdownGraceMs?: number
  /** Serves Prometheus metrics on this port (on `listenHost`); off when absent. */
  metricsPort?: number
}

export interface NodeDaemon {
  readonly host: DriaHost
  readonly models: ServedModel[]
  readonly slots: Slots
  /** Where Prometheus scrapes the node, when `metricsPort` is set. */
  readonly metricsUrl?: string
  /** Finishes in-flight tasks (up to the grace period), hands back the rest, then stops. */
  stop(): Promise<void>
}

/** Starts a node: identity, libp2p host, engine, measured models, task server, advertising. */
export async function startNodeDaemon (components: { logger: Logger }, init: NodeDaemonInit): Promise<NodeDaemon> {
  const log = components.logger
  const slots = new Slots(init.slots ?? DEFAULT_SLOTS)
  const privateKey = await loadOrCreatePrivateKey(join(init.dataDir, IDENTITY_FILE))
  const metrics = init.metricsPort === undefined ? null : createNodeMetrics({ slots })

  // The host and the engine start independently; overlapping them shortens time-to-advertised.
  const [host, engine] = await Promise.all([
    createDriaHost({ privateKey, listenHost: init.listenHost, listenPort: init.p2pPort ?? 0, bootstrap: init.bootstrap, metrics: metrics?.libp2p }),
    openEngine(components, {
      engine: init.engine ?? 'auto',
      ollamaHost: init.ollamaHost ?? DEFAULT_OLLAMA_HOST,
      modelsDir: init.modelsDir ?? join(init.dataDir, 'models'),
      models: init.models,
      threads: init.threads,
      slots: slots.total
    })
  ])
  let models: ServedModel[]
  try {
    models = await selectModels({ engine, logger: log }, { models: init.models, minTps: init.minTps ?? DEFAULT_MIN_TPS })
  } catch (err) {
    await Promise.all([engine.close(), host.stop()])
    throw err
  }

  const handler = createTaskHandler({ engine, slots, privateKey, logger: log }, {
    models: new Map(models.map(m => [m.info.name, m.info])),
    defaultTimeoutMs: DEFAULT_TASK_TIMEOUT_MS
  })
  const server = createTaskServer({ host, logger: log }, {
    handler: metrics === null ? handler.handle : instrumentTaskHandler(handler.handle, metrics),
    maxInboundStreams: Math.max(64, slots.total * 4)
  })
  await server.start()

  const discovery = createDiscovery({ host, logger: log })
  const advertiser = createAdvertiser({ host, discovery, privateKey, slots, logger: log }, {
    models,
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
    slots: slots.total
  }, 'node ready')

  return {
    host,
    models,
    slots,
    metricsUrl: metricsServer?.url,
    async stop () {
      handler.close()
      advertiser.stop()
      await stopEngineGracefully(engine, slots, init.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS, log)
      // Answers of the last tasks (results or handed-back errors) are still being written.
      await server.stop({ graceMs: 2_000 })
      await host.stop()
      await metricsServer?.close()
      log.info('node stopped')
    }
  }
}

/** Lets running tasks finish; past the grace period aborts them so their results go back as retryable errors. */
async function stopEngineGracefully (engine: InferenceEngine, slots: Slots, graceMs: number, log: Logger): Promise<void> {
  if (slots.used > 0) {
    log.info({ inFlight: slots.used, graceMs }, 'waiting for in-flight tasks')
    const timer = setTimeout(() => {
      log.warn({ inFlight: slots.used }, 'grace period over: aborting in-flight tasks')
      engine.abort()
    }, graceMs)
    await slots.drained()
    clearTimeout(timer)
  }
  await engine.close()
}
