import { fastify } from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { STATUS_HOST } from '../constants.js'
import { NodeErrorCode, nodeError } from '../errors.js'
import type { NodeStatus } from './node-status.js'
import { healthSchema, modelsSchema, statusSchema } from './schemas.js'

export interface StatusServer {
  /** e.g. `http://127.0.0.1:4100`. */
  readonly url: string
  close(): Promise<void>
}

export interface StatusServerInit {
  /** 0 picks a free port. */
  port: number
  /** One line per place models were looked for (`GET /models`). */
  tried: string
}

/** The read-only routes `dria-node status` and `models` use. */
export function buildStatusApp (components: { status: NodeStatus }, init: Pick<StatusServerInit, 'tried'>): FastifyInstance {
  const app = fastify({ logger: false })
  app.get('/health', { schema: { response: { 200: healthSchema } } }, async () => ({ status: 'ok' }))
  app.get('/status', { schema: { response: { 200: statusSchema } } }, async () => components.status.snapshot())
  app.get('/models', { schema: { response: { 200: modelsSchema } } }, async () => {
    const { engine, models } = components.status.snapshot()
    return { engine, models, tried: init.tried }
  })
  return app
}

/**
 * Serves the node's status on loopback only: it tells peer ids and counts, nothing secret,
 * but it is for the operator of this machine.
 */
export async function startStatusServer (components: { status: NodeStatus }, init: StatusServerInit): Promise<StatusServer> {
  const app = buildStatusApp(components, init)
  try {
    await app.listen({ host: STATUS_HOST, port: init.port })
  } catch (err) {
    await app.close()
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw nodeError(NodeErrorCode.STATUS_PORT_IN_USE, `status port ${init.port} on ${STATUS_HOST} is already in use (another dria-node?): choose another with --status-port (0 picks a free one)`, err)
    }
    throw err
  }
  const { port } = app.server.address() as AddressInfo
  return {
    url: `http://${STATUS_HOST}:${port}`,
    close: async () => { await app.close() }
  }
}
