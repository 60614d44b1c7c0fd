import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@dria/protocol'
import { startS3Server } from '@dria/testkit'
import type { S3Server } from '@dria/testkit'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { BlobStore } from './blob-store.js'
import { SHARED_ORPHAN_GRACE_MS } from './constants.js'
import { createDirBlobStore } from './dir-blob-store.js'
import { createS3BlobStore } from './s3-blob-store.js'
import { UPLOAD_URL_TTL_SECONDS } from './upload-slots.js'
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

describe('file bodies in a blob store', () => {
  let dir: string
  let store: Store

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-files-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function stored (files: FileService, content = '{}\n'): Promise<string> {
    const temp = files.tempPath()
    await writeFile(temp, content)
    return (await files.adopt('alice', temp, { filename: 'in.jsonl', purpose: 'batch' })).id
  }

  async function keys (blobs: BlobStore): Promise<string[]> {
    const found = []
    for await (const info of blobs.list()) found.push(info.key)
    return found.sort()
  }

  it('deletes a crash\'s leftovers at start: temp files, and bodies no record names', async () => {
    const files = createFileService({ store, logger: createLogger('test', 'silent') })
    const kept = await stored(files)
    await writeFile(files.tempPath(), 'half an upload')
    await writeFile(join(store.filesDir, 'file-orphan'), 'no record')
    await files.start()
    files.stop()
    expect(await readdir(store.filesDir)).toEqual([kept])
  })

  it('in a shared store, leaves young bodies without a record alone (another coordinator may be storing one)', async () => {
    const blobs = createDirBlobStore(join(dir, 'shared'), { shared: true })
    await blobs.start()
    const files = createFileService({ store, logger: createLogger('test', 'silent'), blobs })
    const kept = await stored(files)
    const old = (Date.now() - SHARED_ORPHAN_GRACE_MS - 60_000) / 1000
    for (const [name, age] of [['file-young', null], ['file-old', old], ['staged-file-young', old], ['staged-file-old', old - UPLOAD_URL_TTL_SECONDS]] as const) {
      await writeFile(join(dir, 'shared', name), 'x')
      if (age !== null) await utimes(join(dir, 'shared', name), age, age)
    }
    await files.start()
    files.stop()
    expect(await keys(blobs)).toEqual([kept, 'file-young', 'staged-file-young'].sort())
  })

  describe('in S3', () => {
    let s3: S3Server
    let blobs: BlobStore
    let files: FileService

    const env = { ...process.env }

    beforeAll(async () => {
      s3 = await startS3Server()
      Object.assign(process.env, s3.env)
    })
    afterAll(async () => {
      process.env = env
      await s3?.stop()
    })
    beforeEach(async () => {
      blobs = await createS3BlobStore({ bucket: 'dria', prefix: `${randomUUID()}/`, endpoint: s3.endpoint })
      files = createFileService({ store, logger: createLogger('test', 'silent'), blobs })
    })
    afterEach(() => { blobs.stop() })

    it('stores, opens and copies bodies to local files, leaving no temp file behind', async () => {
      const id = await stored(files, '{"a":1}\n')
      expect(await keys(blobs)).toEqual([id])
      expect((await readdir(store.filesDir))).toEqual([])
      const { stream } = await files.open('alice', id)
      const chunks: Buffer[] = []
      for await (const chunk of stream) chunks.push(chunk as Buffer)
      expect(Buffer.concat(chunks).toString()).toBe('{"a":1}\n')
      const copy = await files.localCopy(id)
      expect(await readFile(copy.path, 'utf8')).toBe('{"a":1}\n')
      await copy.release()
      expect((await readdir(store.filesDir))).toEqual([])
      await files.delete('alice', id)
      expect(await keys(blobs)).toEqual([])
      await expect(files.localCopy(id)).rejects.toMatchObject({ code: 'file_not_found' })
    })

    it('takes in a direct upload within the size limit only', async () => {
      const put = await files.uploadUrl('file-up', 600)
      expect(put).toBeDefined()
      await expect(files.receiveUploaded('file-up', 100)).rejects.toMatchObject({ code: 'file_not_uploaded' })
      expect(await files.hasUploaded('file-up')).toBe(false)
      expect((await fetch(put!, { method: 'PUT', body: '{"b":2}\n' })).status).toBe(200)
      expect(await files.hasUploaded('file-up')).toBe(true)
      await expect(files.receiveUploaded('file-up', 4)).rejects.toMatchObject({ code: 'file_too_large' })
      const temp = await files.receiveUploaded('file-up', 100)
      expect(await readFile(temp, 'utf8')).toBe('{"b":2}\n')
      await files.discard(temp)
      await files.discardUploaded('file-up')
      expect(await files.hasUploaded('file-up')).toBe(false)
    })

    it('signs download links that end when the file expires', async () => {
      const temp = files.tempPath()
      await writeFile(temp, 'x\n')
      const record = await files.adopt('alice', temp, { filename: 'out.jsonl', purpose: 'batch_output', expiresAt: Math.floor(Date.now() / 1000) + 30 })
      const url = new URL((await files.downloadUrl(record, 3600))!)
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(30)
      expect(await (await fetch(url)).text()).toBe('x\n')
    })
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
