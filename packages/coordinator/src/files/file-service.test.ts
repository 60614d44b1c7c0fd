import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@dria/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from '../store/index.js'
import type { Store } from '../store/index.js'
import { createFileService } from './file-service.js'
import type { FileService } from './file-service.js'

describe('daily upload quota', () => {
  let dir: string
  let store: Store
  let files: FileService

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-files-'))
    store = await openStore(dir)
    files = createFileService({ store, logger: createLogger('test') })
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function storeUpload (owner: string): Promise<void> {
    const temp = files.tempPath()
    await writeFile(temp, '{}\n')
    await files.adopt(owner, temp, { filename: 'in.jsonl', purpose: 'batch' })
  }

  it('lets simultaneous uploads through only up to the limit', async () => {
    const attempts = await Promise.allSettled([1, 2, 3, 4].map(async () => await files.reserveDailyUpload('alice', 2)))
    expect(attempts.filter(a => a.status === 'fulfilled')).toHaveLength(2)
    const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected')
    expect(refused.map(r => r.reason.code)).toEqual(['too_many_files', 'too_many_files'])
    expect(refused[0].reason.retryAfterSeconds).toBeGreaterThan(0)
  })

  it('counts stored files, frees the slot of an abandoned upload, and keeps owners apart', async () => {
    await storeUpload('alice')
    const release = await files.reserveDailyUpload('alice', 2)
    await expect(files.reserveDailyUpload('alice', 2)).rejects.toMatchObject({ code: 'too_many_files' })
    await expect(files.reserveDailyUpload('bob', 2)).resolves.toBeTypeOf('function')
    release() // the upload was abandoned
    release() // releasing twice frees one slot only
    const again = await files.reserveDailyUpload('alice', 2)
    await storeUpload('alice')
    again()
    await expect(files.checkDailyUploads('alice', 2)).rejects.toMatchObject({ code: 'too_many_files' })
    await expect(files.reserveDailyUpload('alice', Number.POSITIVE_INFINITY)).resolves.toBeTypeOf('function')
  })
})

describe('leftovers in a shared file directory', () => {
  it('sweeps only files nobody has written for an hour, since other coordinators write there too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dria-files-shared-'))
    const level = await openStore(dir)
    try {
      // The same directory as a coordinator of a shared store sees it.
      const store: Store = { ...level, shared: true }
      const files = createFileService({ store, logger: createLogger('test', 'silent') })
      const fresh = files.tempPath()
      const stale = files.tempPath()
      await Promise.all([writeFile(fresh, 'an upload in progress elsewhere'), writeFile(stale, 'left by a crash')])
      await writeFile(join(store.filesDir, 'file-being-adopted'), '{}\n')
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
      await utimes(stale, twoHoursAgo, twoHoursAgo)
      await files.start()
      files.stop()
      expect((await readdir(store.filesDir)).sort()).toEqual(['file-being-adopted', fresh.slice(store.filesDir.length + 1)].sort())
    } finally {
      await level.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
