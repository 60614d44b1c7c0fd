import { createReadStream, createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { isDriaError } from '@dria/protocol'
import { pipeline } from 'node:stream/promises'
import { BlobNotFoundError, BlobStoreError, checkKey } from './blob-store.js'
import type { BlobStore } from './blob-store.js'
import { S3_CONNECT_TIMEOUT_MS, S3_PART_BYTES, S3_PART_QUEUE, S3_SOCKET_TIMEOUT_MS } from './constants.js'

export interface S3BlobStoreInit {
  bucket: string
  /** Prepended to every key (`folder/`). Default none. */
  prefix?: string
  /**
   * An S3-compatible server (MinIO, Ceph, R2, a test server): addressed path-style. Default: AWS
   * itself, from the standard AWS environment (`AWS_REGION`, credentials chain).
   */
  endpoint?: string
  /** Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1. */
  region?: string
}

const MISSING = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket'])
const isMissing = (err: unknown): boolean => MISSING.has((err as Error).name) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404

/**
 * Bodies as objects in an S3 bucket (AWS S3 or any server speaking its protocol). Uploads of
 * large bodies are multipart with a bounded number of parts in memory; clients reach objects
 * through pre-signed URLs.
 */
export async function createS3BlobStore (init: S3BlobStoreInit): Promise<BlobStore> {
  // Loaded only when used: the SDK is large, and most coordinators keep bodies on disk.
  const [{ S3Client, HeadBucketCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand }, { Upload }, { getSignedUrl }] =
    await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage'), import('@aws-sdk/s3-request-presigner')])
  const { bucket } = init
  const prefix = init.prefix ?? ''
  const location = `s3://${bucket}/${prefix}`
  const client = new S3Client({
    endpoint: init.endpoint,
    forcePathStyle: init.endpoint !== undefined,
    region: init.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // Checksums only where S3 requires them: pre-signed PUTs must not carry the checksum of an
    // empty body, and S3-compatible servers differ in which checksums they know.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: S3_CONNECT_TIMEOUT_MS, requestTimeout: S3_SOCKET_TIMEOUT_MS }
  })
  const objectKey = (key: string): string => prefix + checkKey(key)

  /** S3 failures become coded errors; `missing` what a 404 means for this call. */
  async function call<T> (what: string, run: () => Promise<T>, missing?: () => T | never): Promise<T> {
    try {
      return await run()
    } catch (err) {
      if (isDriaError(err)) throw err
      if (missing !== undefined && isMissing(err)) return missing()
      throw new BlobStoreError(`The blob store (${location}) failed to ${what}: ${(err as Error).name}.`, err)
    }
  }

  async function get (key: string): Promise<Readable> {
    const response = await call('read a body', async () => await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) })), () => { throw new BlobNotFoundError(key) })
    return response.Body as Readable
  }

  return {
    location,
    shared: true,
    presigner: {
      putUrl: async (key, ttlSeconds) => await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: objectKey(key) }), { expiresIn: ttlSeconds }),
      getUrl: async (key, ttlSeconds, download) => await getSignedUrl(client, new GetObjectCommand({
        Bucket: bucket,
        Key: objectKey(key),
        ResponseContentType: download.contentType,
        ResponseContentDisposition: `attachment; filename="${download.filename.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`
      }), { expiresIn: ttlSeconds })
    },
    async start () {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }))
      } catch (err) {
        const reason = isMissing(err) ? 'the bucket does not exist' : (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403 ? 'access denied' : `unreachable (${(err as Error).name}: ${(err as Error).message})`
        throw new BlobStoreError(`The blob store ${location} is not usable: ${reason}.`, err)
      }
    },
    async putFile (key, path) {
      await call('store a body', async () => {
        const upload = new Upload({ client, params: { Bucket: bucket, Key: objectKey(key), Body: createReadStream(path) }, partSize: S3_PART_BYTES, queueSize: S3_PART_QUEUE, leavePartsOnError: false })
        await upload.done()
      })
      await rm(path, { force: true })
    },
    get,
    async download (key, path) {
      const body = await get(key)
      await call('read a body', async () => { await pipeline(body, createWriteStream(path)) })
    },
    localPath: () => undefined,
    async stat (key) {
      return await call('look up a body', async () => {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }))
        return { key, size: head.ContentLength ?? 0, modifiedAt: head.LastModified?.getTime() ?? 0 }
      }, () => undefined)
    },
    async delete (key) {
      await call('delete a body', async () => { await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) })) })
    },
    async * list () {
      let token: string | undefined
      do {
        const page = await call('list bodies', async () => await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })))
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(prefix.length) ?? ''
          // Objects in folders below the prefix are not the coordinator's.
          if (key !== '' && !key.includes('/')) yield { key, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 }
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
    },
    stop () {
      client.destroy()
    }
  }
}
