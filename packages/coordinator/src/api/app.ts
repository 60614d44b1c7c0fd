import { randomBytes } from 'node:crypto'
import multipart from '@fastify/multipart'
import { LogController, fastify } from 'fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Logger } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import type { Keyring } from '../accounts/index.js'
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
import { DEFAULT_DOWNLOAD_URL_TTL_SECONDS, MAX_URL_PARAM_LENGTH } from './constants.js'
import { registerDriaRoutes } from './dria-routes.js'
import { errorBody, handleError, handleFrameworkError } from './error-handler.js'
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
  keyring: Keyring
  metrics: CoordinatorMetrics | null
  logger: Logger
}

export interface AppInit {
  maxFileBytes: number
  /** The built web console; null serves a 503 `console_not_built` at `/` (the API works without it). Default null. */
  consoleAssets?: StaticAssets | null
  /**
   * Base of the URLs the API hands out (upload URLs, result downloads): never taken from the
   * client's Host header. Default: http://127.0.0.1 (the coordinator passes its listen address).
   */
  publicUrl?: () => string
  /** How long a pre-signed result URL stays valid. Default 1 h. */
  downloadUrlTtlSeconds?: number
}

/** The HTTP API, separate from listening so tests can `inject()`. */
export async function buildApp (components: AppComponents, init: AppInit): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: components.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // Per-request lines would dominate the log at batch rates; errors are logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // Ids of any length reach the routes, which answer an unknown id with the usual 404.
    routerOptions: { maxParamLength: MAX_URL_PARAM_LENGTH },
    genReqId: () => `req_${randomBytes(16).toString('hex')}`,
    frameworkErrors: handleFrameworkError
  })
  if (components.metrics !== null) instrumentHttp(app, components.metrics)
  app.setValidatorCompiler(compileValidator)
  // OpenAI's Python SDK sends `content-type: application/json` with an empty body on DELETE
  // and on POST …/cancel: an empty JSON body is no body.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') done(null, undefined)
    else parseJson(request, body as string, done)
  })
  await app.register(multipart, { limits: { fileSize: init.maxFileBytes, files: 1, fields: 10 } })
  app.addHook('onRequest', async (request, reply) => { void reply.header('x-request-id', request.id) })
  app.setErrorHandler(handleError)
  // Open event streams would keep close() waiting for ever.
  app.addHook('preClose', async () => { components.stream.stop() })
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(404, 'not_found', `Unknown route ${request.method} ${request.url.slice(0, 200)}.`))
  })
  const links = {
    publicUrl: init.publicUrl ?? (() => 'http://127.0.0.1'),
    ttlSeconds: init.downloadUrlTtlSeconds ?? DEFAULT_DOWNLOAD_URL_TTL_SECONDS
  }
  registerNetworkRoutes(app, components)
  registerFileRoutes(app, components)
  registerBatchRoutes(app, components)
  registerAdminRoutes(app, { keys: components.store.keys, auth: components.auth, keyring: components.keyring })
  registerAdminUsageRoutes(app, { store: components.store, auth: components.auth })
  registerFileValidationRoutes(app, components)
  registerDriaRoutes(app, { ...components, links })
  registerRealtimeRoutes(app, components)
  registerConsoleRoutes(app, { assets: init.consoleAssets ?? null })
  return app
}
