import { createReadStream, createWriteStream } from 'node:fs'
import { readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { Logger } from '@dria/protocol'
import { DEFAULT_MAX_FILE_BYTES, SHARED_LEFTOVER_AGE_MS } from '../constants.js'
import { LimitError, apiError, notFound } from '../errors.js'
import { newId } from '../ids.js'
import type { FilePurpose, FileRecord, ListOptions, Store } from '../store/index.js'

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
  pathOf(id: string): string
  /** A path in the files dir for a body being written (or scratch files); swept at start. */
  tempPath(): string
  /**
   * Deletes what a crash left behind (temp uploads and bodies no record names), then deletes
   * expired files now and periodically.
   */
  start(): Promise<void>
  stop(): void
}

const DAY_SECONDS = 24 * 3600

/** File bodies live on disk, one per id; metadata lives in LevelDB. */
export function createFileService (components: { store: Store, logger: Logger }, init: FileServiceInit = {}): FileService {
  const { store } = components
  const log = components.logger.child({ module: 'files' })
  const maxBytes = init.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const pathOf = (id: string): string => join(store.filesDir, id)
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
    await rename(temp, pathOf(record.id))
    await store.files.put(record)
    return record
  }

  async function remove (record: FileRecord): Promise<void> {
    await store.files.delete(record)
    await rm(pathOf(record.id), { force: true })
  }

  async function sweepLeftovers (): Promise<void> {
    let swept = 0
    // A shared directory (several coordinators) also holds other coordinators' uploads and
    // scratch files in progress: only those untouched for a while are leftovers there.
    const before = Date.now() - SHARED_LEFTOVER_AGE_MS
    for (const name of await readdir(store.filesDir)) {
      const orphan = name.startsWith('upload-') ? name.endsWith('.tmp') : await store.files.get(name) === undefined
      if (!orphan) continue
      if (store.shared) {
        const modified = (await stat(join(store.filesDir, name)).catch(() => undefined))?.mtimeMs
        if (modified === undefined || modified > before) continue
      }
      await rm(join(store.filesDir, name), { recursive: true, force: true })
      swept++
    }
    if (swept > 0) log.info({ swept }, 'leftovers of a crash deleted')
  }

  async function sweepExpired (): Promise<void> {
    const t = Math.floor(Date.now() / 1000)
    for await (const record of store.files.all()) {
      if (record.expires_at != null && record.expires_at <= t) await remove(record)
    }
  }
  let expiryTimer: NodeJS.Timeout | undefined

  return {
    async receive (body, limitBytes = maxBytes) {
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
    },
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
      return { record, stream: createReadStream(pathOf(id)) }
    },
    async delete (owner, id) {
      const record = await get(owner, id)
      await remove(record)
      return record
    },
    pathOf,
    tempPath,
    async start () {
      await sweepLeftovers()
      await sweepExpired()
      expiryTimer = setInterval(() => { sweepExpired().catch(err => { log.warn({ err }, 'expired files not deleted') }) }, init.expirySweepIntervalMs ?? 60_000)
      expiryTimer.unref()
    },
    stop () {
      clearInterval(expiryTimer)
    }
  }
}
