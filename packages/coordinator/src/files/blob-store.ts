import type { Readable } from 'node:stream'
import { DriaError } from '@dria/protocol'

/** One stored body. */
export interface BlobInfo {
  key: string
  size: number
  /** When it was last written, in ms since the epoch. */
  modifiedAt: number
}

/** Links clients use to reach a store directly (S3 pre-signed URLs). */
export interface BlobPresigner {
  /** A URL the client PUTs the body of `key` to, valid for `ttlSeconds`. */
  putUrl(key: string, ttlSeconds: number): Promise<string>
  /** A URL anyone holding it GETs `key` from, valid for `ttlSeconds`, served as an attachment. */
  getUrl(key: string, ttlSeconds: number, download: { contentType: string, filename: string }): Promise<string>
}

/**
 * Where file bodies live: a directory (local, or a filesystem several coordinators share) or an
 * S3 bucket. Keys are flat names the coordinator makes (file ids). Bodies always
 * arrive from and are read into local files or streams, never whole buffers: they can be GiBs.
 */
export interface BlobStore {
  /** `dir:<path>` or `s3://bucket/prefix`, for logs. */
  readonly location: string
  /** Whether other coordinators may write here too (anything but the default data-dir store). */
  readonly shared: boolean
  /** Set where clients can reach the store themselves; otherwise the coordinator serves bodies. */
  readonly presigner?: BlobPresigner
  /** Checks the store is usable (directory writable, bucket reachable): `blob_store_unavailable` otherwise. */
  start(): Promise<void>
  /** Stores the local file at `path` as `key`, replacing any body there, and removes the file. */
  putFile(key: string, path: string): Promise<void>
  /** Streams the body of `key`; `blob_not_found` when there is none. Resolves once the body is found. */
  get(key: string): Promise<Readable>
  /** Writes the body of `key` to the local file `path` (for readers that need random access). */
  download(key: string, path: string): Promise<void>
  /** The local file holding `key`, when the store keeps bodies as local files (no copy needed). */
  localPath(key: string): string | undefined
  stat(key: string): Promise<BlobInfo | undefined>
  /** Deletes `key`; deleting a missing key is not an error. */
  delete(key: string): Promise<void>
  /** Every stored body (in no particular order). */
  list(): AsyncIterable<BlobInfo>
  stop(): void
}

/** `blob_not_found`: the store has no body under this key (a 404 wherever it reaches the API). */
export class BlobNotFoundError extends DriaError {
  constructor (key: string) {
    super('blob_not_found', `No stored body for '${key}'.`)
  }
}

/** The store failed or could not be reached: a 503, retryable. */
export class BlobStoreError extends DriaError {
  constructor (message: string, cause?: unknown) {
    super('blob_store_unavailable', message, { retryable: true, cause })
  }
}

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/

/** Keys are ids the coordinator made; anything else (`..`, absolute paths) is a bug, refused. */
export function checkKey (key: string): string {
  if (!KEY.test(key)) throw new DriaError('invalid_blob_key', `Invalid blob key '${key}'.`)
  return key
}

export type BlobStoreSpec = { kind: 'dir', path: string } | { kind: 's3', bucket: string, prefix: string }

/** Parses `--blob-store`: `dir:<path>` or `s3://bucket[/prefix]`. */
export function parseBlobStoreSpec (value: string): BlobStoreSpec {
  if (value.startsWith('dir:') && value.length > 4) return { kind: 'dir', path: value.slice(4) }
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(value)
  if (s3 !== null) {
    const prefix = (s3[2] ?? '').replace(/^\/+|\/+$/g, '')
    return { kind: 's3', bucket: s3[1], prefix: prefix === '' ? '' : `${prefix}/` }
  }
  throw new DriaError('invalid_blob_store', `Invalid blob store '${value}': expected dir:<path> or s3://<bucket>[/<prefix>].`)
}
