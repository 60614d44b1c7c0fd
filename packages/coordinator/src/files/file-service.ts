import { createWriteStream } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import { isDriaError } from '@dria/protocol'
import type { Logger } from '@dria/protocol'
import { DEFAULT_MAX_FILE_BYTES } from '../constants.js'
import { LimitError, apiError, notFound } from '../errors.js'
import { newId } from '../ids.js'
import type { FilePurpose, FileRecord, ListOptions, Store } from '../store/index.js'
import type { BlobStore } from './blob-store.js'
import { BLOB_SWEEP_INTERVAL_MS, SHARED_ORPHAN_GRACE_MS, STAGED_PREFIX } from './constants.js'
import { createDirBlobStore } from './dir-blob-store.js'
import { UPLOAD_URL_TTL_SECONDS } from './upload-slots.js'

export interface FileServiceInit {
  maxFileBytes?: number
  /** How often files past their `expires_at` are deleted. Default 60 s. */
  expirySweepIntervalMs?: number
}

export interface AdoptMeta {
  filename: string
  purpose: FilePurpose
  /** Default: a new id. An existing file with this id is replaced. */
  id?: string
  /** Unix seconds after which the file is deleted; default never. */
  expiresAt?: number | null
}

export interface FileService {
  /** Streams a body to a temp file (never buffering it), enforcing the size limit. */
  receive(body: Readable, maxBytes?: number): Promise<string>
  /** Throws `too_many_files` (429, with retry-after) when `owner` already uploaded `perDay` batch files in 24 h. */
  checkDailyUploads(owner: string, perDay: number): Promise<void>
  /**
   * The same check for an upload about to be received, counting uploads still in progress, so
   * that simultaneous uploads cannot all slip under the limit. Call the returned function once
   * the upload is stored or abandoned.
   */
  reserveDailyUpload(owner: string, perDay: number): Promise<() => void>
  /** Records a body written to a temp path (an upload, or an output file) as a file. */
  adopt(owner: string, tempPath: string, meta: AdoptMeta): Promise<FileRecord>
  discard(tempPath: string): Promise<void>
  get(owner: string, id: string): Promise<FileRecord>
  list(owner: string, options: ListOptions): Promise<{ data: FileRecord[], hasMore: boolean }>
  open(owner: string, id: string): Promise<{ record: FileRecord, stream: Readable }>
  delete(owner: string, id: string): Promise<FileRecord>
  /**
   * A local file with the body of `id`, for readers that need one (validation, ingest): the body
   * itself in a local directory store, else a temp copy. Call `release` when done.
   */
  localCopy(id: string): Promise<{ path: string, release: () => Promise<void> }>
  /** A local path for a body being written (or scratch files); swept at start. */
  tempPath(): string
  /** Whether clients upload to and download from the blob store directly (pre-signed URLs). */
  readonly direct: boolean
  /** A pre-signed download URL for a stored file, valid for `ttlSeconds` (or until the file expires); undefined unless `direct`. */
  downloadUrl(record: FileRecord, ttlSeconds: number): Promise<string | undefined>
  /** A pre-signed URL the client PUTs the body of the future file `fileId` to; undefined unless `direct`. */
  uploadUrl(fileId: string, ttlSeconds: number): Promise<string | undefined>
  /**
   * Fetches what the client PUT to `uploadUrl(fileId)` into a temp file, enforcing the size
   * limit: `file_not_uploaded` (400) when nothing was uploaded.
   */
  receiveUploaded(fileId: string, maxBytes: number): Promise<string>
  /** Whether the client has PUT something to `uploadUrl(fileId)` (not yet stored as a file). */
  hasUploaded(fileId: string): Promise<boolean>
  /** Deletes a direct upload once its file is stored. */
  discardUploaded(fileId: string): Promise<void>
  /**
   * Deletes what a crash left behind (temp uploads and bodies no record names), then deletes
   * expired files now and periodically.
   */
  start(): Promise<void>
  stop(): void
}

const DAY_SECONDS = 24 * 3600

export interface FileServiceComponents {
  store: Store
  logger: Logger
  /** Where bodies live. Default: a directory store in `store.filesDir` (also the temp dir). */
  blobs?: BlobStore
}

/**
 * File bodies live in a blob store, one per id (written there complete, from a local temp
 * file); metadata lives in the store. Temp files stay in the local `store.filesDir`.
 */
export function createFileService (components: FileServiceComponents, init: FileServiceInit = {}): FileService {
  const { store } = components
  const blobs = components.blobs ?? createDirBlobStore(store.filesDir, { shared: store.shared })
  const log = components.logger.child({ module: 'files' })
  const maxBytes = init.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const stagedKey = (fileId: string): string => STAGED_PREFIX + fileId
  /** Batch uploads being received, per owner, and the chain their quota checks run in. */
  const uploading = new Map<string, number>()
  const reserving = new Map<string, Promise<void>>()

  async function checkDaily (owner: string, perDay: number, inProgress: number): Promise<void> {
    if (!Number.isFinite(perDay)) return
    const since = Math.floor(Date.now() / 1000) - DAY_SECONDS
    const recent: number[] = []
    for await (const file of store.files.newest(owner)) {
      if (file.created_at < since) break
      if (file.purpose === 'batch') recent.push(file.created_at)
    }
    if (recent.length + inProgress >= perDay) {
      // When the oldest upload that counts leaves the 24 h window (in-progress ones hold a slot now).
      const oldest = recent[Math.max(0, perDay - 1 - inProgress)] ?? Math.floor(Date.now() / 1000)
      const retryAfter = Math.max(1, oldest + DAY_SECONDS - Math.floor(Date.now() / 1000))
      throw new LimitError('too_many_files', `Your plan allows ${perDay} batch files per 24 hours.`, retryAfter)
    }
  }
  const tempPath = (): string => join(store.filesDir, `${newId('upload-')}.tmp`)
  const isTemp = (name: string): boolean => name.startsWith('upload-') && name.endsWith('.tmp')

  async function get (owner: string, id: string): Promise<FileRecord> {
    const record = await store.files.get(id)
    // Another key's file is indistinguishable from a missing one, and so is an expired one.
    if (record === undefined || record.owner !== owner || (record.expires_at != null && record.expires_at <= Date.now() / 1000)) throw notFound('file', id)
    return record
  }

  async function adopt (owner: string, temp: string, meta: AdoptMeta): Promise<FileRecord> {
    const { size } = await stat(temp)
    const record: FileRecord = {
      id: meta.id ?? newId('file-'),
      object: 'file',
      bytes: size,
      created_at: Math.floor(Date.now() / 1000),
      filename: meta.filename,
      purpose: meta.purpose,
      status: 'processed',
      owner,
      expires_at: meta.expiresAt ?? null
    }
    // Body first, then the record: a crash in between leaves an orphan body for the sweep.
    await blobs.putFile(record.id, temp)
    await store.files.put(record)
    return record
  }

  async function remove (record: FileRecord): Promise<void> {
    await store.files.delete(record)
    // The file is gone once its record is: a body the store failed to delete is an orphan the sweep removes.
    await blobs.delete(record.id).catch(err => { log.warn({ fileId: record.id, err }, 'file body not deleted') })
  }

  /** Temp files and scratch dirs of this coordinator (local to it, so all of them are leftovers). */
  async function sweepTemp (): Promise<number> {
    let swept = 0
    // A shared directory (several coordinators) also holds other coordinators' uploads and
    // scratch files in progress: only those untouched for a while are leftovers there.
    const before = Date.now() - SHARED_ORPHAN_GRACE_MS
    for (const name of await readdir(store.filesDir)) {
      if (!isTemp(name)) continue
      if (store.shared) {
        const modified = (await stat(join(store.filesDir, name)).catch(() => undefined))?.mtimeMs
        if (modified === undefined || modified > before) continue
      }
      await rm(join(store.filesDir, name), { recursive: true, force: true })
      swept++
    }
    return swept
  }

  /** Bodies no record names, and direct uploads never completed. */
  async function sweepOrphans (): Promise<number> {
    const grace = blobs.shared ? SHARED_ORPHAN_GRACE_MS : 0
    let swept = 0
    for await (const blob of blobs.list()) {
      const age = Date.now() - blob.modifiedAt
      const orphan = blob.key.startsWith(STAGED_PREFIX)
        ? age > UPLOAD_URL_TTL_SECONDS * 1000 + grace
        : !isTemp(blob.key) && age >= grace && await store.files.get(blob.key) === undefined
      if (!orphan) continue
      await blobs.delete(blob.key)
      swept++
    }
    return swept
  }

  async function sweepLeftovers (): Promise<void> {
    const swept = await sweepTemp() + await sweepOrphans()
    if (swept > 0) log.info({ swept }, 'leftovers of a crash deleted')
  }

  async function sweepExpired (): Promise<void> {
    const t = Math.floor(Date.now() / 1000)
    for await (const record of store.files.all()) {
      if (record.expires_at != null && record.expires_at <= t) await remove(record)
    }
  }
  let expiryTimer: NodeJS.Timeout | undefined
  let orphanTimer: NodeJS.Timeout | undefined

  async function receive (body: Readable, limitBytes = maxBytes): Promise<string> {
    const temp = tempPath()
    let bytes = 0
    const limit = new Transform({
      transform (chunk: Buffer, _encoding, callback) {
        bytes += chunk.length
        if (bytes > limitBytes) callback(apiError('file_too_large', `File exceeds the ${limitBytes}-byte limit of your plan.`))
        else callback(null, chunk)
      }
    })
    try {
      await pipeline(body, limit, createWriteStream(temp))
      return temp
    } catch (err) {
      await rm(temp, { force: true })
      throw err
    }
  }

  async function openBody (id: string): Promise<Readable> {
    try {
      return await blobs.get(id)
    } catch (err) {
      // The record outlived its body (deleted meanwhile by another coordinator).
      throw isDriaError(err, 'blob_not_found') ? notFound('file', id) : err
    }
  }

  return {
    receive,
    checkDailyUploads: async (owner, perDay) => { await checkDaily(owner, perDay, 0) },
    async reserveDailyUpload (owner, perDay) {
      if (!Number.isFinite(perDay)) return () => {}
      // Checks of one owner run one at a time: each sees the uploads reserved before it.
      const previous = reserving.get(owner) ?? Promise.resolve()
      const turn = previous.then(async () => {
        await checkDaily(owner, perDay, uploading.get(owner) ?? 0)
        uploading.set(owner, (uploading.get(owner) ?? 0) + 1)
      })
      const settled = turn.catch(() => {})
      reserving.set(owner, settled)
      void settled.then(() => { if (reserving.get(owner) === settled) reserving.delete(owner) })
      await turn
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (uploading.get(owner) ?? 1) - 1
        if (left === 0) uploading.delete(owner)
        else uploading.set(owner, left)
      }
    },
    adopt,
    discard: async (temp) => { await rm(temp, { force: true }) },
    get,
    list: async (owner, options) => await store.files.list(owner, options),
    async open (owner, id) {
      const record = await get(owner, id)
      return { record, stream: await openBody(id) }
    },
    async delete (owner, id) {
      const record = await get(owner, id)
      await remove(record)
      return record
    },
    async localCopy (id) {
      const local = blobs.localPath(id)
      if (local !== undefined) return { path: local, release: async () => {} }
      const temp = tempPath()
      try {
        await blobs.download(id, temp)
      } catch (err) {
        await rm(temp, { force: true })
        throw isDriaError(err, 'blob_not_found') ? notFound('file', id) : err
      }
      return { path: temp, release: async () => { await rm(temp, { force: true }) } }
    },
    tempPath,
    direct: blobs.presigner !== undefined,
    async downloadUrl (record, ttlSeconds) {
      // A link never outlives the file it names.
      const ttl = record.expires_at == null ? ttlSeconds : Math.min(ttlSeconds, record.expires_at - Math.floor(Date.now() / 1000))
      return await blobs.presigner?.getUrl(record.id, Math.max(1, ttl), { contentType: 'application/jsonl', filename: record.filename })
    },
    uploadUrl: async (fileId, ttlSeconds) => await blobs.presigner?.putUrl(stagedKey(fileId), ttlSeconds),
    async receiveUploaded (fileId, limitBytes) {
      const info = await blobs.stat(stagedKey(fileId))
      if (info === undefined) throw apiError('file_not_uploaded', `Nothing was uploaded for file '${fileId}': PUT the file to its upload URL first.`, 'id')
      if (info.size > limitBytes) throw apiError('file_too_large', `File exceeds the ${limitBytes}-byte limit of your plan.`)
      // Streamed through the same limit: the object may be replaced after the size was read.
      return await receive(await blobs.get(stagedKey(fileId)), limitBytes)
    },
    hasUploaded: async (fileId) => await blobs.stat(stagedKey(fileId)) !== undefined,
    discardUploaded: async (fileId) => { await blobs.delete(stagedKey(fileId)) },
    async start () {
      await sweepLeftovers()
      await sweepExpired()
      expiryTimer = setInterval(() => { sweepExpired().catch(err => { log.warn({ err }, 'expired files not deleted') }) }, init.expirySweepIntervalMs ?? 60_000)
      expiryTimer.unref()
      if (blobs.shared) {
        orphanTimer = setInterval(() => { sweepOrphans().catch(err => { log.warn({ err }, 'orphan bodies not deleted') }) }, BLOB_SWEEP_INTERVAL_MS)
        orphanTimer.unref()
      }
    },
    stop () {
      clearInterval(expiryTimer)
      clearInterval(orphanTimer)
    }
  }
}
