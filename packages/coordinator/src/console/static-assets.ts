import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import { gzipSync } from 'node:zlib'

export interface StaticAsset {
  body: Buffer
  /** Present when compressing paid off. */
  gzip?: Buffer
  type: string
  etag: string
  /** Content-hashed file names never change: cache them for good. */
  immutable: boolean
}

/** URL path (`/index.html`, `/assets/x.js`) → asset. */
export type StaticAssets = ReadonlyMap<string, StaticAsset>

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt'])

async function filesUnder (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
}

/**
 * Reads the built web console into memory (it is small), compressed once. Only files found
 * here can ever be served: request paths are looked up, never joined onto the disk path.
 * Null when the console was not built (`dir` has no index.html).
 */
export async function loadStaticAssets (dir: string): Promise<StaticAssets | null> {
  if (!existsSync(join(dir, 'index.html'))) return null
  const assets = new Map<string, StaticAsset>()
  for (const path of await filesUnder(dir)) {
    const type = TYPES[extname(path)]
    if (type === undefined) continue
    const body = await readFile(path)
    const urlPath = '/' + relative(dir, path).split(sep).join('/')
    const gzip = COMPRESSIBLE.has(extname(path)) ? gzipSync(body, { level: 9 }) : undefined
    assets.set(urlPath, {
      body,
      gzip: gzip !== undefined && gzip.length < body.length ? gzip : undefined,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: urlPath.startsWith('/assets/')
    })
  }
  return assets
}
