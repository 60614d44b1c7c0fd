import type { FastifyInstance } from 'fastify'
import { modelKindName } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { NetworkView } from '../network/index.js'
import type { Trust } from '../trust/index.js'
import type { Authenticator } from './auth.js'
import { listOf, withErrors } from './schemas.js'

const modelSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string' },
    created: { type: 'integer' },
    owned_by: { type: 'string' },
    kind: { type: 'string' },
    nodes: { type: 'integer' }
  }
} as const

const nodeSchema = {
  type: 'object',
  properties: {
    peer_id: { type: 'string' },
    engine: { type: 'string' },
    version: { type: 'string' },
    multiaddrs: { type: 'array', items: { type: 'string' } },
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, digest: { type: 'string' }, kind: { type: 'string' }, tokens_per_second: { type: 'number' } }
      }
    },
    slots_total: { type: 'integer' },
    queue_depth: { type: 'integer' },
    window: { type: 'integer' },
    in_flight: { type: 'integer' },
    connected_since: { type: 'integer' },
    trust: {
      type: 'object',
      properties: { level: { type: 'string' }, reason: { type: ['string', 'null'] }, since: { type: 'integer' } }
    },
    served: { type: 'object', properties: { tasks: { type: 'integer' }, tokens: { type: 'integer' } } },
    checks: { type: 'object', properties: { passed: { type: 'integer' }, failed: { type: 'integer' } } }
  }
} as const

/** Health, bootstrap info for nodes, the nodes themselves and the models they serve. */
export function registerNetworkRoutes (app: FastifyInstance, components: { host: DriaHost, network: NetworkView, trust: Trust, auth: Authenticator, metrics: CoordinatorMetrics | null }): void {
  const { host, network, trust, auth, metrics } = components
  const started = Math.floor(Date.now() / 1000)

  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }))

  // Prometheus scrapes without a key, as exporters usually do; put it behind the network's own access rules.
  if (metrics !== null) {
    app.get('/metrics', async (_request, reply) => {
      return await reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics())
    })
  }

  app.get('/api/v0/network/info', {
    schema: { response: { 200: { type: 'object', properties: { peerId: { type: 'string' }, multiaddrs: { type: 'array', items: { type: 'string' } } } } } }
  }, async () => ({
    peerId: host.peerId.toString(),
    multiaddrs: host.getMultiaddrs().map(ma => ma.toString())
  }))

  app.get('/api/v0/network/nodes', {
    schema: { response: withErrors({ 200: listOf(nodeSchema) }) }
  }, async (request) => {
    await auth.authenticate(request)
    return {
      object: 'list',
      data: network.sessions().map(session => {
        const status = trust.status(session.id)
        return {
          peer_id: session.id,
          engine: session.hello.engine,
          version: session.hello.agent,
          models: [...session.models.values()].map(m => ({
            name: m.name,
            digest: m.digest,
            kind: modelKindName(m.kind),
            tokens_per_second: Math.round(m.tokensPerSecond)
          })),
          slots_total: session.hello.slots,
          queue_depth: session.hello.queueDepth,
          window: session.capacity.limit,
          in_flight: session.outstanding,
          connected_since: Math.floor(session.openedAt / 1000),
          trust: { level: status.level, reason: status.reason ?? null, since: Math.floor(status.since / 1000) },
          served: status.served,
          checks: status.checks
        }
      })
    }
  })

  app.get('/v1/models', {
    schema: { response: withErrors({ 200: listOf(modelSchema) }) }
  }, async (request) => {
    await auth.authenticate(request)
    return {
      object: 'list',
      data: network.models().map(model => ({
        id: model.name,
        object: 'model',
        created: started,
        owned_by: 'dria',
        kind: model.kind,
        nodes: model.nodes
      }))
    }
  })
}
