import type { FastifyInstance } from 'fastify'
import type { DriaHost } from '@dria/p2p'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { NetworkView } from '../network/index.js'
import type { EventStream } from '../events/index.js'
import type { Authenticator } from './auth.js'
import { presentedKey } from './auth.js'
import type { NetworkStatus } from './network-status.js'
import { listOf, withErrors } from './schemas.js'

const modelSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string' },
    created: { type: 'integer' },
    owned_by: { type: 'string' },
    kind: { type: 'string' },
    nodes: { type: 'integer' },
    capabilities: { type: 'array', items: { type: 'string' } }
  }
} as const

const slotsSchema = { type: 'object', properties: { advertised: { type: 'integer' }, in_flight: { type: 'integer' } } } as const
const nullableInt = { type: ['integer', 'null'] } as const
const nullableNumber = { type: ['number', 'null'] } as const

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
        properties: {
          name: { type: 'string' },
          digest: { type: 'string' },
          kind: { type: 'string' },
          tokens_per_second: { type: 'number' },
          context_length: { type: 'integer' },
          capabilities: { type: 'array', items: { type: 'string' } },
          accepted: { type: 'boolean' }
        }
      }
    },
    slots: { type: 'object', properties: { advertised: { type: 'integer' }, queue_depth: { type: 'integer' }, window: { type: 'integer' }, in_flight: { type: 'integer' } } },
    connected_since: nullableInt,
    uptime_seconds: nullableInt,
    throughput: { type: 'object', properties: { tokens_per_second: { type: 'number' }, tasks_per_second: { type: 'number' }, window_seconds: { type: 'integer' } } },
    trust: { type: 'object', properties: { level: { type: 'string' }, reason: { type: ['string', 'null'] }, since: nullableInt } },
    strikes: { type: 'integer' },
    verified: { type: 'object', properties: { tasks: { type: 'integer' }, tokens: { type: 'integer' }, audited: { type: 'integer' } } },
    checks: { type: 'object', properties: { passed: { type: 'integer' }, failed: { type: 'integer' } } },
    rtt_ms: { type: 'integer' }
  }
} as const

const countsSchema = { type: 'object', additionalProperties: { type: 'integer' } } as const

const statsSchema = {
  type: 'object',
  properties: {
    object: { type: 'string' },
    at: { type: 'integer' },
    started_at: { type: 'integer' },
    nodes: { type: 'object', properties: { live: { type: 'integer' }, by_trust: countsSchema } },
    slots: slotsSchema,
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          kind: { type: 'string' },
          nodes: { type: 'integer' },
          digests: { type: 'array', items: { type: 'string' } },
          slots: slotsSchema,
          tokens_per_second: { type: 'number' },
          queue_depth: { type: 'integer' }
        }
      }
    },
    queue: { type: 'object', properties: { depth: { type: 'integer' }, by_model: countsSchema, unattributed: { type: 'integer' } } },
    batches: countsSchema,
    throughput: { type: 'object', properties: { window_seconds: { type: 'integer' }, tasks_per_second: { type: 'number' }, tokens_per_second: { type: 'number' } } },
    totals: countsSchema,
    verification: {
      type: 'object',
      properties: { accepted: { type: 'integer' }, refused: nullableInt, audits: { type: ['object', 'null'], additionalProperties: { type: 'integer' } } }
    },
    history: {
      type: 'object',
      properties: {
        interval_seconds: { type: 'number' },
        points: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              at: { type: 'integer' },
              tasks: { type: 'integer' },
              failed: { type: 'integer' },
              input_tokens: { type: 'integer' },
              output_tokens: { type: 'integer' },
              refused: nullableNumber,
              audits_agreed: nullableNumber,
              audits_caught: nullableNumber,
              audits_inconclusive: nullableNumber
            }
          }
        }
      }
    }
  }
} as const

/** Health, bootstrap info for nodes, the public network view, the event stream and the models nodes serve. */
export function registerNetworkRoutes (app: FastifyInstance, components: { host: DriaHost, network: NetworkView, status: NetworkStatus, stream: EventStream, auth: Authenticator, metrics: CoordinatorMetrics | null }): void {
  const { host, network, status, stream, auth, metrics } = components
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

  // The network view is public and read-only: aggregate numbers and what nodes advertise anyway.
  app.get('/api/v0/network/nodes', {
    schema: { response: withErrors({ 200: listOf(nodeSchema) }) }
  }, async () => ({ object: 'list', data: status.nodes() }))

  app.get('/api/v0/network/stats', {
    schema: { response: withErrors({ 200: statsSchema }) }
  }, async () => await status.stats({ history: true }))

  // Public network events for anyone; with a key, that key's batch events on the same stream.
  app.get('/api/v0/events', async (request, reply) => {
    const owner = presentedKey(request) === undefined ? undefined : (await auth.authenticate(request)).keyId
    stream.attach(reply.raw, { owner })
    reply.hijack()
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
        nodes: model.nodes,
        capabilities: model.capabilities
      }))
    }
  })
}
