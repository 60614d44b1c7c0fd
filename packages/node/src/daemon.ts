import { join } from 'node:path'
import { createDiscovery, createTaskServer } from '@dria/p2p'
import type { GpuChoice, InferenceEngine } from '@dria/engines'
import type { Logger } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import { createAdvertiser } from './advertising/index.js'
import {
  DEFAULT_ADVERTISE_INTERVAL_MS, DEFAULT_CONNECT_WARN_MS, DEFAULT_GPU, DEFAULT_MIN_TPS, DEFAULT_OLLAMA_HOST, DEFAULT_REPROVIDE_INTERVAL_MS,
  DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_SLOTS, DEFAULT_STATUS_PORT, DEFAULT_TASK_TIMEOUT_MS, IDENTITY_FILE
} from './constants.js'
import { describeProbes, modelsDirOf, openEngine, selectModels } from './engine/index.js'
import type { EngineChoice, ServedModel } from './engine/index.js'
import { loadOrCreatePrivateKey } from '@dria/protocol'
import { openHostWith, validateAnnounce, validateBootstrap, watchConnectivity } from './network/index.js'
import { Slots } from './slots.js'
import { countTasks, createNodeStatus, startStatusServer } from './status/index.js'
import type { NodeStatus } from './status/index.js'
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
  advertiseIntervalMs?: number
  shutdownGraceMs?: number
}

export interface NodeDaemon {
  readonly host: DriaHost
  readonly models: ServedModel[]
  readonly slots: Slots
  /** Counters and coordinator reports; the p2p session calls `status.recordCoordinatorReport`. */
  readonly status: NodeStatus
  /** Base URL of the loopback status endpoint. */
  readonly statusUrl: string
  /** Finishes in-flight tasks (up to the grace period), hands back the rest, then stops. */
  stop(): Promise<void>
}

/** Starts a node: identity, libp2p host, engine, measured models, task server, advertising. */
export async function startNodeDaemon (components: { logger: Logger }, init: NodeDaemonInit): Promise<NodeDaemon> {
  const log = components.logger
  const bootstrap = init.bootstrap ?? []
  validateBootstrap(bootstrap)
  validateAnnounce(init.announce ?? [])
  const slots = new Slots(init.slots ?? DEFAULT_SLOTS)
  const privateKey = await loadOrCreatePrivateKey(join(init.dataDir, IDENTITY_FILE))
  const listenHost = init.listenHost ?? '127.0.0.1'
  const listenPort = init.p2pPort ?? 0

  // The host and the engine start independently; overlapping them shortens time-to-advertised.
  const { host, other: opened } = await openHostWith({ privateKey, listenHost, listenPort, bootstrap, announce: init.announce }, openEngine(components, {
    engine: init.engine ?? 'auto',
    ollamaHost: init.ollamaHost ?? DEFAULT_OLLAMA_HOST,
    modelsDir: modelsDirOf(init.dataDir, init.modelsDir),
    models: init.models,
    threads: init.threads,
    slots: slots.total,
    gpu: init.gpu ?? DEFAULT_GPU,
    demoModel: init.demoModel ?? false,
    pull: init.pull ?? false
  }), async ({ engine }) => { await engine.close() })
  const { engine } = opened
  let models: ServedModel[]
  let status: NodeStatus
  let statusServer: Awaited<ReturnType<typeof startStatusServer>>
  try {
    const selection = await selectModels({ engine, logger: log }, { opened, minTps: init.minTps ?? DEFAULT_MIN_TPS })
    models = selection.served
    status = createNodeStatus({ host, slots }, { engine: engine.name, models: selection.entries, bootstrap })
    statusServer = await startStatusServer({ status }, {
      port: init.statusPort ?? DEFAULT_STATUS_PORT,
      tried: describeProbes(opened.probes.ollama, opened.probes.modelsDir)
    })
  } catch (err) {
    await Promise.all([engine.close(), host.stop()])
    throw err
  }

  const handler = createTaskHandler({ engine, slots, privateKey, logger: log }, {
    models: new Map(models.map(m => [m.info.name, m.info])),
    defaultTimeoutMs: DEFAULT_TASK_TIMEOUT_MS
  })
  const server = createTaskServer({ host, logger: log }, {
    handler: countTasks(handler.handle, { status, logger: log }),
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
  const connectivity = watchConnectivity({ host, logger: log }, { bootstrap, warnAfterMs: init.connectWarnMs ?? DEFAULT_CONNECT_WARN_MS })
  log.info({
    peerId: host.peerId.toString(),
    multiaddrs: host.getMultiaddrs().map(ma => ma.toString()),
    models: models.map(m => m.info.name),
    slots: slots.total,
    statusUrl: statusServer.url
  }, 'node ready')

  return {
    host,
    models,
    slots,
    status,
    statusUrl: statusServer.url,
    async stop () {
      handler.close()
      advertiser.stop()
      connectivity.stop()
      await statusServer.close()
      await stopEngineGracefully(engine, slots, init.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS, log)
      // Answers of the last tasks (results or handed-back errors) are still being written.
      await server.stop({ graceMs: 2_000 })
      await host.stop()
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
