import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { access, constants, copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { BlobNotFoundError, BlobStoreError, checkKey } from './blob-store.js'
import type { BlobInfo, BlobStore } from './blob-store.js'

export interface DirBlobStoreInit {
  /** Whether other coordinators share the directory. Default false. */
  shared?: boolean
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT'

/**
 * Bodies as files in a directory, one per key. A body appears under its key only complete: it is
 * renamed there (copied to a temporary name first when the directory is on another filesystem).
 */
export function createDirBlobStore (dir: string, init: DirBlobStoreInit = {}): BlobStore {
  const pathOf = (key: string): string => join(dir, checkKey(key))

  async function infoOf (key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(pathOf(key))
      return s.isFile() ? { key, size: s.size, modifiedAt: s.mtimeMs } : undefined
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  return {
    location: `dir:${dir}`,
    shared: init.shared ?? false,
    async start () {
      try {
        await mkdir(dir, { recursive: true })
        await access(dir, constants.W_OK | constants.R_OK)
      } catch (err) {
        throw new BlobStoreError(`The blob store directory ${dir} is not usable: ${(err as Error).message}`, err)
      }
    },
    async putFile (key, path) {
      const target = pathOf(key)
      try {
        await rename(path, target)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
        // Another filesystem (a shared mount): copied beside the target, then renamed over it.
        const partial = join(dir, `partial-${randomBytes(8).toString('hex')}.tmp`)
        try {
          await copyFile(path, partial)
          await rename(partial, target)
        } finally {
          await rm(partial, { force: true })
        }
        await rm(path, { force: true })
      }
    },
    async get (key) {
      const stream = createReadStream(pathOf(key))
      // Opened before resolving, so a missing body is an error here and not in the middle of a reply.
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => { stream.off('error', reject); resolve() })
        stream.once('error', reject)
      }).catch(err => { throw isMissing(err) ? new BlobNotFoundError(key) : err })
      return stream as Readable
    },
    async download (key, path) {
      try {
        await copyFile(pathOf(key), path)
      } catch (err) {
        throw isMissing(err) ? new BlobNotFoundError(key) : err
      }
    },
    localPath: key => pathOf(key),
    stat: infoOf,
    async delete (key) {
      await rm(pathOf(key), { force: true })
    },
    async * list () {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        // Deleted meanwhile: skipped.
        const info = entry.isFile() ? await infoOf(entry.name).catch(() => undefined) : undefined
        if (info !== undefined) yield info
      }
    },
    stop () {}
  }
}
