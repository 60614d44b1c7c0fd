import type { FastifyInstance } from 'fastify'
import { UNMATCHED_ROUTE } from './constants.js'
import type { CoordinatorMetrics } from './index.js'

const started = new WeakMap<object, bigint>()

/** Counts and times every request by method, route template (never the raw path) and status. */
export function instrumentHttp (app: FastifyInstance, metrics: CoordinatorMetrics): void {
  app.addHook('onRequest', async (request) => {
    started.set(request, process.hrtime.bigint())
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE
    const method = request.method
    metrics.httpRequests.inc({ method, route, status_code: String(reply.statusCode) })
    const start = started.get(request)
    if (start !== undefined) metrics.httpSeconds.observe({ method, route }, Number(process.hrtime.bigint() - start) / 1e9)
  })
}
