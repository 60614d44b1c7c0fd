import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorBody } from '../api/error-handler.js'
import type { StaticAsset, StaticAssets } from './static-assets.js'

/**
 * Everything the pages load comes from this origin: no inline script or style, no CDN, no
 * frames. Preact and uPlot set styles through the CSSOM, which style-src does not restrict.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin'
}

const PAGES: Readonly<Record<string, string>> = { '/': '/index.html', '/network': '/network.html' }

function send (request: FastifyRequest, reply: FastifyReply, asset: StaticAsset): FastifyReply {
  void reply.headers(SECURITY_HEADERS)
    .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('etag', asset.etag)
    .header('vary', 'accept-encoding')
  if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send()
  void reply.type(asset.type)
  const accepts = request.headers['accept-encoding']
  if (asset.gzip !== undefined && typeof accepts === 'string' && /\bgzip\b/.test(accepts)) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip)
  }
  return reply.send(asset.body)
}

/** The web console at `/`, the network dashboard at `/network`, and their built assets. */
export function registerConsoleRoutes (app: FastifyInstance, components: { assets: StaticAssets | null }): void {
  const { assets } = components

  for (const [route, file] of Object.entries(PAGES)) {
    app.get(route, async (request, reply) => {
      const page = assets?.get(file)
      if (page === undefined) {
        return await reply.status(503).send(errorBody(503, 'console_not_built', 'The web console was not built: run `pnpm build`. The API works without it.'))
      }
      return send(request, reply, page)
    })
  }

  app.get<{ Params: { file: string } }>('/assets/:file', {
    schema: { params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 200 } } } }
  }, async (request, reply) => {
    const asset = assets?.get(`/assets/${request.params.file}`)
    if (asset === undefined) return await reply.status(404).send(errorBody(404, 'not_found', `Unknown asset '${request.params.file}'.`))
    return send(request, reply, asset)
  })
}
