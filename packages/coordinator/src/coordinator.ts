import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { assetsDir } from '@dria/dashboard'
import { join } from 'node:path'
import { createDiscovery, createDriaHost } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import type { Logger } from '@dria/protocol'
import type { FastifyInstance } from 'fastify'
import { DEFAULT_PLANS, loadOrCreateKeyring } from './accounts/index.js'
import type { PlanLimits, PlanName } from './accounts/index.js'
import { buildApp, createAuthenticator, createNetworkStatus } from './api/index.js'
import type { NetworkStatusInit } from './api/index.js'
import { createBatchService } from './batches/index.js'
import type { BatchServiceInit } from './batches/index.js'
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, NODE_REPORT_INTERVAL_MS, TRUST_SYNC_MS } from './constants.js'
import { createFileService, createUploadSlots, openBlobStore } from './files/index.js'
import { loadOrCreatePrivateKey } from '@dria/protocol'
import { createNetworkView } from './network/index.js'
import type { NetworkViewInit } from './network/index.js'
import { loadStaticAssets } from './console/index.js'
import { createEventBus, createEventStream } from './events/index.js'
import type { EventStreamInit } from './events/index.js'
import { createMetrics, observeSettled } from './metrics/index.js'
import { createScheduler } from './scheduler/index.js'
import { createWebhookSender } from './webhooks/index.js'
import type { WebhookSenderInit } from './webhooks/index.js'
import type { SchedulerInit } from './scheduler/index.js'
import { openStore, startLeaseRenewal } from './store/index.js'
import { createModelIdentity, createTrust, startNodeReports } from './trust/index.js'
import type { ModelIdentityInit, TrustInit } from './trust/index.js'

export interface CoordinatorInit {
  dataDir: string
  /** State backend: `level` (LevelDB under `dataDir`) or a `postgres://…` URL. Default `level`. */
  store?: string
  /** Directory of file bodies; coordinators sharing a database share it too. Default `<dataDir>/files`. */
  filesDir?: string
  /** The server secret (API key hashes, URL signatures); coordinators sharing a database share it too. Default `<dataDir>/server-secret`. */
  secretFile?: string
  /** HTTP interface. Default 127.0.0.1. */
  host?: string
  /** HTTP port; 0 picks a free one. Default 8080. */
  port?: number
  p2pPort?: number
  p2pHost?: string
  bootstrap?: string[]
  apiKeys: string[]
  /** Enables the admin API (`Authorization: Bearer <token>`). */
  adminToken?: string
  /** Plan limits; default DEFAULT_PLANS. */
  plans?: Record<PlanName, PlanLimits>
  /**
   * Base URL clients reach the API at (upload and download links). Default: the address it
   * listens on.
   */
  publicUrl?: string
  batches?: BatchServiceInit
  scheduler?: SchedulerInit
  network?: NetworkViewInit
  trust?: TrustInit
  identity?: ModelIdentityInit
  webhooks?: WebhookSenderInit
  /** The public network view (`/api/v0/network/*`). */
  status?: NetworkStatusInit
  /** The event stream (`/api/v0/events`). */
  events?: EventStreamInit
  /** `dir:<path>` or `s3://bucket/prefix`: where file bodies live. Default: `<dataDir>/files`. */
  blobStore?: string
  /** S3-compatible server for an `s3://` blob store (path-style). Default: AWS S3. */
  s3Endpoint?: string
  /** The built web console to serve at `/`; null serves none. Default: `@dria/dashboard`'s build output. */
  dashboardDir?: string | null
}

export interface Coordinator {
  readonly app: FastifyInstance
  readonly host: DriaHost
  /** `http://host:port` the API listens on. */
  readonly url: string
  stop(): Promise<void>
}

/** Starts the coordinator: store, libp2p peer, network view, scheduler, batches, HTTP API. */
export async function startCoordinator (components: { logger: Logger }, init: CoordinatorInit): Promise<Coordinator> {
  const { logger } = components
  await mkdir(init.dataDir, { recursive: true })
  // This process's id on a shared store: the owner of the task leases it takes.
  const instanceId = randomUUID()
  const store = await openStore(init.dataDir, { url: init.store, filesDir: init.filesDir, instanceId })
  // Checked first: a bucket that is missing or unreachable stops the start with its reason.
  const blobs = await openBlobStore({ defaultDir: store.filesDir, shared: store.shared }, init).catch(async (err) => {
    await store.close()
    throw err
  })
  logger.info({ blobStore: blobs.location }, 'blob store ready')
  const privateKey = await loadOrCreatePrivateKey(join(init.dataDir, 'peer-key'))
  const trust = createTrust({ book: store.trust, logger }, { ...(store.shared ? { syncMs: TRUST_SYNC_MS } : {}), ...init.trust })
  await trust.start()
  const host = await createDriaHost({ privateKey, listenHost: init.p2pHost, listenPort: init.p2pPort ?? 0, bootstrap: init.bootstrap })
  const discovery = createDiscovery({ host, logger })
  const network = createNetworkView({
    host,
    discovery,
    peers: store.peers,
    logger,
    isBarred: peerId => trust.isQuarantined(peerId),
    admits: (session, model) => identity.accepts(model, session.models.get(model)?.digest ?? '')
  }, init.network)
  const identity = createModelIdentity({ nodes: () => network.sessions(), level: peerId => trust.level(peerId) }, init.identity)
  // Registered first: every other listener must see the new set of accepted digests.
  network.onChange(() => { identity.invalidate() })
  const bus = createEventBus({ onListenerError: err => { logger.error({ err }, 'event listener failed') } })
  const metrics = createMetrics({
    nodes: () => network.sessions().length,
    tasksInFlight: () => scheduler.inFlight(),
    nodesByState: () => status.nodesByTrust(),
    queuedLines: () => status.queue().by_model,
    eventClients: () => stream.clients()
  })
  const scheduler = createScheduler({ store, network, trust, logger, metrics }, init.scheduler)
  scheduler.onSettled(row => { observeSettled(metrics, row) })
  const reports = startNodeReports({ network, trust, scheduler }, { intervalMs: NODE_REPORT_INTERVAL_MS })
  const status = createNetworkStatus({ host, network, trust, scheduler, bus, metrics }, init.status)
  const stream = createEventStream({ bus, networkSnapshot: async () => ({ stats: await status.stats(), nodes: status.nodes() }), logger, metrics }, init.events)
  const plans = init.plans ?? DEFAULT_PLANS
  // The largest any plan allows; each plan's own limit is checked while streaming.
  const maxFileBytes = Math.max(...Object.values(plans).map(p => p.fileBytes))
  const keyring = await loadOrCreateKeyring(init.secretFile ?? join(init.dataDir, 'server-secret'))
  const files = createFileService({ store, logger, blobs }, { maxFileBytes })
  const uploads = createUploadSlots({ store })
  const webhooks = createWebhookSender({ logger, secretOf: keyring.webhookSecret }, init.webhooks)
  const batches = createBatchService({ store, files, scheduler, network, trust, webhooks, logger, metrics, events: bus }, init.batches)
  const auth = createAuthenticator({ store, keyring, logger }, { staticKeys: init.apiKeys, adminToken: init.adminToken, plans })
  const dashboardDir = init.dashboardDir === undefined ? assetsDir : init.dashboardDir
  const consoleAssets = dashboardDir === null ? null : await loadStaticAssets(dashboardDir)
  if (dashboardDir !== null && consoleAssets === null) logger.warn({ dashboardDir }, 'web console not built: run pnpm build to serve it')
  let publicUrl = init.publicUrl?.replace(/\/+$/, '')
  const app = await buildApp({ host, network, status, stream, files, uploads, batches, scheduler, auth, store, keyring, metrics, logger }, { maxFileBytes, consoleAssets, publicUrl: () => publicUrl ?? '' })

  status.start()
  stream.start()
  await network.start()
  // Owners settled and leftovers swept before any batch resumes.
  await auth.start()
  await files.start()
  await uploads.start()
  await batches.start()
  const leases = store.shared ? startLeaseRenewal({ tasks: store.tasks, logger }) : undefined
  const address = await app.listen({ host: init.host ?? DEFAULT_HTTP_HOST, port: init.port ?? DEFAULT_HTTP_PORT })
  publicUrl ??= address
  logger.info({
    url: address,
    store: store.shared ? 'postgres' : 'level',
    instanceId,
    peerId: host.peerId.toString(),
    multiaddrs: host.getMultiaddrs().map(ma => ma.toString())
  }, 'coordinator ready')

  return {
    app,
    host,
    url: address,
    async stop () {
      await app.close()
      await batches.stop()
      leases?.stop()
      status.stop()
      files.stop()
      uploads.stop()
      reports.stop()
      network.stop()
      await trust.stop()
      await host.stop()
      blobs.stop()
      await store.close()
      logger.info('coordinator stopped')
    }
  }
}
