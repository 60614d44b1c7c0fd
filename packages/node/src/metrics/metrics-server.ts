import { createServer } from 'node:http'
import type { Logger } from '@dria/protocol'
import type { Registry } from 'prom-client'

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string
  close(): Promise<void>
}

/** Serves `GET /metrics` for Prometheus on its own port, apart from the libp2p listener. */
export async function startMetricsServer (components: { registry: Registry, logger: Logger }, init: { host: string, port: number }): Promise<MetricsServer> {
  const { registry } = components
  const log = components.logger.child({ module: 'metrics' })
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n')
      return
    }
    registry.metrics().then(body => {
      response.writeHead(200, { 'content-type': registry.contentType }).end(body)
    }, err => {
      log.error({ err }, 'metrics collection failed')
      response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as { port: number }
  const host = init.host.includes(':') ? `[${init.host}]` : init.host
  const url = `http://${host}:${port}/metrics`
  log.info({ url }, 'metrics listening')
  return {
    url,
    async close () {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
