import type { FastifyInstance } from 'fastify'
import type { DriaHost } from '@dria/p2p'
import type { NetworkView } from '../network/index.js'
import type { Authenticator } from './auth.js'
import { withErrors } from './schemas.js'

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

/** Health, bootstrap info for nodes, and the models live nodes serve. */
export function registerNetworkRoutes (app: FastifyInstance, components: { host: DriaHost, network: NetworkView, auth: Authenticator }): void {
  const { host, network, auth } = components
  const started = Math.floor(Date.now() / 1000)

  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }))

  app.get('/api/v0/network/info', {
    schema: { response: { 200: { type: 'object', properties: { peerId: { type: 'string' }, multiaddrs: { type: 'array', items: { type: 'string' } } } } } }
  }, async () => ({
    peerId: host.peerId.toString(),
    multiaddrs: host.getMultiaddrs().map(ma => ma.toString())
  }))

  app.get('/v1/models', {
    schema: { response: withErrors({ 200: { type: 'object', properties: { object: { type: 'string' }, data: { type: 'array', items: modelSchema } } } }) }
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
