import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { fastify } from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTENT_SECURITY_POLICY, registerConsoleRoutes } from './console-routes.js'
import { loadStaticAssets } from './static-assets.js'

describe('console routes', () => {
  let dir: string
  let app: FastifyInstance
  const script = `console.log(${JSON.stringify('x'.repeat(2000))})\n`

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-console-'))
    await mkdir(join(dir, 'assets'))
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>')
    await writeFile(join(dir, 'network.html'), '<!doctype html><title>network</title>')
    await writeFile(join(dir, 'assets', 'app-abc123.js'), script)
    await writeFile(join(dir, 'assets', 'notes.exe'), 'not served')
    await writeFile(join(dir, 'secret.txt'), 'outside assets')
    app = fastify()
    registerConsoleRoutes(app, { assets: await loadStaticAssets(dir) })
  })

  afterAll(async () => {
    await app.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves both pages with a strict policy, revalidated on every load', async () => {
    for (const [url, title] of [['/', 'console'], ['/network', 'network']]) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode).toBe(200)
      expect(res.body).toContain(`<title>${title}</title>`)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY)
      expect(res.headers['content-security-policy']).not.toContain('unsafe')
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(res.headers['x-frame-options']).toBe('DENY')
      expect(res.headers['cache-control']).toBe('no-cache')
      const again = await app.inject({ method: 'GET', url, headers: { 'if-none-match': String(res.headers.etag) } })
      expect(again.statusCode).toBe(304)
      expect(again.body).toBe('')
    }
  })

  it('caches hashed assets for good and compresses them', async () => {
    const plain = await app.inject({ method: 'GET', url: '/assets/app-abc123.js' })
    expect(plain.statusCode).toBe(200)
    expect(plain.body).toBe(script)
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    const gzipped = await app.inject({ method: 'GET', url: '/assets/app-abc123.js', headers: { 'accept-encoding': 'gzip, br' } })
    expect(gzipped.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gzipped.rawPayload).toString()).toBe(script)
    expect(gzipped.rawPayload.length).toBeLessThan(script.length / 4)
  })

  it('serves only files of the build, never paths outside it', async () => {
    for (const url of ['/assets/missing.js', '/assets/notes.exe', '/assets/..%2fsecret.txt', '/assets/%2e%2e%2findex.html']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(404)
      expect(res.json().error.code).toBe('not_found')
    }
  })

  it('answers 503 console_not_built when there is no build', async () => {
    const bare = fastify()
    registerConsoleRoutes(bare, { assets: await loadStaticAssets(join(dir, 'assets')) })
    const res = await bare.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(503)
    expect(res.json().error.code).toBe('console_not_built')
    await bare.close()
  })
})
