import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { modelNotFound } from '../errors.js'

export interface ModelFile {
  /** The file name without `.gguf`. */
  name: string
  path: string
  sizeBytes: number
}

const EXTENSION = '.gguf'

/** The GGUF files in `dir`, sorted by name; only `names` when given (each must exist). */
export async function findModelFiles (dir: string, names?: string[]): Promise<ModelFile[]> {
  const available = (await readdir(dir))
    .filter(file => file.endsWith(EXTENSION))
    .map(file => file.slice(0, -EXTENSION.length))
    .sort()
  const wanted = names === undefined || names.length === 0 ? available : names
  return await Promise.all(wanted.map(async name => {
    if (!available.includes(name)) throw modelNotFound(name, available)
    const path = join(dir, name + EXTENSION)
    return { name, path, sizeBytes: (await stat(path)).size }
  }))
}

/** `sha256:<hex>` of a file, streamed. */
export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return `sha256:${hash.digest('hex')}`
}
