import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { startS3Server } from '@dria/testkit'
import type { S3Server } from '@dria/testkit'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { BlobStore } from './blob-store.js'
import { parseBlobStoreSpec } from './blob-store.js'
import { createDirBlobStore } from './dir-blob-store.js'
import { openBlobStore } from './open-blob-store.js'
import { createS3BlobStore } from './s3-blob-store.js'

async function sha256Of (stream: Readable): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function text (stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString()
}

let s3: S3Server
const saved = { ...process.env }

beforeAll(async () => {
  s3 = await startS3Server({ buckets: ['dria', 'other'] })
  Object.assign(process.env, s3.env)
})

afterAll(async () => {
  process.env = saved
  await s3?.stop()
})

/** One suite, every implementation: what the file service relies on. */
const implementations: Array<[string, (dir: string) => Promise<BlobStore>]> = [
  ['dir', async (dir) => createDirBlobStore(join(dir, 'blobs'))],
  ['s3', async () => await createS3BlobStore({ bucket: 'dria', prefix: `run-${randomBytes(4).toString('hex')}/`, endpoint: s3.endpoint })]
]

describe.each(implementations)('%s blob store', (_name, create) => {
  let dir: string
  let blobs: BlobStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-blobs-'))
    blobs = await create(dir)
    await blobs.start()
  })

  afterEach(async () => {
    blobs.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function local (content: string | Buffer): Promise<string> {
    const path = join(dir, `local-${randomBytes(4).toString('hex')}`)
    await writeFile(path, content)
    return path
  }

  it('stores a file under its key, moving it, and reads it back', async () => {
    const path = await local('{"a":1}\n')
    await blobs.putFile('file-1', path)
    expect(existsSync(path)).toBe(false)
    expect(await text(await blobs.get('file-1'))).toBe('{"a":1}\n')
    expect(await blobs.stat('file-1')).toMatchObject({ key: 'file-1', size: 8 })
    const copy = join(dir, 'copy')
    await blobs.download('file-1', copy)
    expect(await readFile(copy, 'utf8')).toBe('{"a":1}\n')
    // Replacing a body.
    await blobs.putFile('file-1', await local('b\n'))
    expect(await text(await blobs.get('file-1'))).toBe('b\n')
  })

  it('lists, deletes, and reports missing bodies with a code', async () => {
    await blobs.putFile('file-a', await local('a'))
    await blobs.putFile('file-b', await local('bb'))
    const listed = []
    for await (const info of blobs.list()) listed.push(info)
    expect(listed.map(i => [i.key, i.size]).sort()).toEqual([['file-a', 1], ['file-b', 2]])
    expect(listed.every(i => Math.abs(i.modifiedAt - Date.now()) < 3600_000)).toBe(true)
    await blobs.delete('file-a')
    await blobs.delete('file-a') // deleting twice is fine
    expect(await blobs.stat('file-a')).toBeUndefined()
    await expect(blobs.get('file-a')).rejects.toMatchObject({ code: 'blob_not_found' })
    await expect(blobs.download('file-a', join(dir, 'x'))).rejects.toMatchObject({ code: 'blob_not_found' })
  })

  it('refuses keys that are not plain names', async () => {
    for (const key of ['../x', 'a/b', '', '.hidden']) {
      await expect(blobs.stat(key)).rejects.toMatchObject({ code: 'invalid_blob_key' })
    }
  })

  it('stores a body larger than an upload part intact', async () => {
    const body = randomBytes(20 * 1024 * 1024 + 123)
    const path = await local(body)
    await blobs.putFile('file-big', path)
    expect((await blobs.stat('file-big'))?.size).toBe(body.length)
    expect(await sha256Of(await blobs.get('file-big'))).toBe(createHash('sha256').update(body).digest('hex'))
  })
})

describe.runIf(existsSync('/dev/shm'))('dir blob store on another filesystem', () => {
  it('copies a body over, appearing under its key only complete', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dria-blobs-'))
    const shared = await mkdtemp('/dev/shm/dria-blobs-')
    const blobs = createDirBlobStore(shared, { shared: true })
    try {
      await blobs.start()
      await writeFile(join(dir, 'body'), 'across\n')
      await blobs.putFile('file-x', join(dir, 'body'))
      expect(existsSync(join(dir, 'body'))).toBe(false)
      expect(await text(await blobs.get('file-x'))).toBe('across\n')
      const keys = []
      for await (const info of blobs.list()) keys.push(info.key)
      expect(keys).toEqual(['file-x'])
    } finally {
      await rm(dir, { recursive: true, force: true })
      await rm(shared, { recursive: true, force: true })
    }
  })
})

describe('s3 blob store', () => {
  it('hands out pre-signed URLs that work without credentials, and only as signed', async () => {
    const blobs = await createS3BlobStore({ bucket: 'dria', prefix: 'presign/', endpoint: s3.endpoint })
    try {
      const put = await blobs.presigner!.putUrl('staged-1', 600)
      expect(put).toContain('X-Amz-Signature=')
      const refusedBefore = s3.refused
      const tampered = put.replace('staged-1', 'staged-2')
      expect((await fetch(tampered, { method: 'PUT', body: 'x' })).status).toBe(403)
      expect(s3.refused).toBe(refusedBefore + 1)
      expect((await fetch(put, { method: 'PUT', body: '{"x":1}\n' })).status).toBe(200)
      expect(await blobs.stat('staged-1')).toMatchObject({ size: 8 })
      const get = await blobs.presigner!.getUrl('staged-1', 600, { contentType: 'application/jsonl', filename: 'out "1".jsonl' })
      const response = await fetch(get)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/jsonl')
      expect(response.headers.get('content-disposition')).toBe('attachment; filename="out _1_.jsonl"')
      expect(await response.text()).toBe('{"x":1}\n')
      expect((await fetch(get.replace(/X-Amz-Signature=[0-9a-f]/, 'X-Amz-Signature=g'))).status).toBe(403)
    } finally {
      blobs.stop()
    }
  })

  it('keeps to its prefix', async () => {
    const a = await createS3BlobStore({ bucket: 'other', prefix: 'a/', endpoint: s3.endpoint })
    const b = await createS3BlobStore({ bucket: 'other', prefix: 'a/b/', endpoint: s3.endpoint })
    const dir = await mkdtemp(join(tmpdir(), 'dria-blobs-'))
    try {
      await writeFile(join(dir, 'x'), 'x')
      await b.putFile('file-in-b', join(dir, 'x'))
      const keys = []
      for await (const info of a.list()) keys.push(info.key)
      expect(keys).toEqual([])
    } finally {
      a.stop()
      b.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses to start on a missing bucket or an unreachable server, with a code', async () => {
    await expect(openBlobStore({ defaultDir: tmpdir() }, { blobStore: 's3://no-such-bucket', s3Endpoint: s3.endpoint })).rejects.toMatchObject({ code: 'blob_store_unavailable' })
    // A port nothing listens on.
    await expect(openBlobStore({ defaultDir: tmpdir() }, { blobStore: 's3://dria', s3Endpoint: 'http://127.0.0.1:9' })).rejects.toMatchObject({ code: 'blob_store_unavailable' })
  })

  it('turns S3 failures into a retryable coded error', async () => {
    const blobs = await createS3BlobStore({ bucket: 'dria', prefix: 'failing/', endpoint: s3.endpoint })
    s3.failing = true
    try {
      await expect(blobs.get('file-x')).rejects.toMatchObject({ code: 'blob_store_unavailable', retryable: true })
      await expect(blobs.stat('file-x')).rejects.toMatchObject({ code: 'blob_store_unavailable' })
    } finally {
      s3.failing = false
      blobs.stop()
    }
  })
})

describe('--blob-store', () => {
  it('parses dir: and s3:// and refuses anything else with a code', () => {
    expect(parseBlobStoreSpec('dir:/mnt/shared')).toEqual({ kind: 'dir', path: '/mnt/shared' })
    expect(parseBlobStoreSpec('s3://my-bucket')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: '' })
    expect(parseBlobStoreSpec('s3://my-bucket/dria/files/')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'dria/files/' })
    for (const bad of ['dir:', '/tmp/x', 's3://', 's3://UPPER', 'gs://b']) expect(() => parseBlobStoreSpec(bad)).toThrow(expect.objectContaining({ code: 'invalid_blob_store' }))
  })
})
