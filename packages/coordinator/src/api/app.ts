import multipart from '@fastify/multipart'
import { LogController, fastify } from 'fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Logger } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import type { BatchService } from '../batches/index.js'
import type { FileService, UploadSlots } from '../files/index.js'
import { registerConsoleRoutes } from '../console/index.js'
import type { StaticAssets } from '../console/index.js'
import type { EventStream } from '../events/index.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import { instrumentHttp } from '../metrics/index.js'
import type { Store } from '../store/index.js'
import type { NetworkView } from '../network/index.js'
import type { Scheduler } from '../scheduler/index.js'
import type { Authenticator } from './auth.js'
import type { NetworkStatus } from './network-status.js'
import { registerAdminRoutes } from './admin-routes.js'
import { registerAdminUsageRoutes } from './admin-usage-routes.js'
import { registerFileValidationRoutes } from './file-validation-routes.js'
import { registerDriaRoutes } from './dria-routes.js'
import { errorBody, handleError } from './error-handler.js'
import { compileValidator } from './validation.js'
import { registerBatchRoutes } from './batches-routes.js'
import { registerFileRoutes } from './files-routes.js'
import { registerNetworkRoutes } from './network-routes.js'
import { registerRealtimeRoutes } from './realtime-routes.js'

export interface AppComponents {
  host: DriaHost
  network: NetworkView
  status: NetworkStatus
  stream: EventStream
  files: FileService
  uploads: UploadSlots
  batches: BatchService
  /** Runs the real-time requests (`/v1/chat/completions`…). */
  scheduler: Scheduler
  auth: Authenticator
  store: Store
  metrics: CoordinatorMetrics | null
  logger: Logger
}

export interface AppInit {
  maxFileBytes: number
  /** The built web console; null serves a 503 `console_not_built` at `/` (the API works without it). Default null. */
  consoleAssets?: StaticAssets | null
}

/** The HTTP API, separate from listening so tests can `inject()`. */
export async function buildApp (components: AppComponents, init: AppInit): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: components.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // Per-request lines would dominate the log at batch rates; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024
  })
  if (components.metrics !== null) instrumentHttp(app, components.metrics)
  app.setValidatorCompiler(compileValidator)
  await app.register(multipart, { limits: { fileSize: init.maxFileBytes, files: 1, fields: 10 } })
  app.setErrorHandler(handleError)
  // Open event streams would keep close() waiting for ever.
  app.addHook('preClose', async () => { components.stream.stop() })
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(404, 'not_found', `Unknown route ${request.method} ${request.url}.`))
  })
  registerNetworkRoutes(app, components)
  registerFileRoutes(app, components)
  registerBatchRoutes(app, components)
  registerAdminRoutes(app, { keys: components.store.keys, auth: components.auth })
  registerAdminUsageRoutes(app, { store: components.store, auth: components.auth })
  registerFileValidationRoutes(app, components)
  registerDriaRoutes(app, components)
  registerRealtimeRoutes(app, components)
  registerConsoleRoutes(app, { assets: init.consoleAssets ?? null })
  return app
}
