import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { Logger } from '@dria/protocol'
import { DEFAULT_MAX_FILE_BYTES } from '../constants.js'
import { LimitError, apiError, notFound } from '../errors.js'
import { newId } from '../ids.js'
import type { FilePurpose, FileRecord, ListOptions, Store } from '../store/index.js'

export interface FileServiceInit {
  maxFileBytes?: number
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
  adopt(owner: string, tempPath: string, meta: { filename: string, purpose: FilePurpose, id?: string }): Promise<FileRecord>
  discard(tempPath: string): Promise<void>
  get(owner: string, id: string): Promise<FileRecord>
  list(owner: string, options: ListOptions): Promise<{ data: FileRecord[], hasMore: boolean }>
  open(owner: string, id: string): Promise<{ record: FileRecord, stream: Readable }>
  delete(owner: string, id: string): Promise<FileRecord>
  pathOf(id: string): string
  /** A path in the files dir for a body being written. */
  tempPath(): string
}

const DAY_SECONDS = 24 * 3600

/** File bodies live on disk, one per id; metadata lives in LevelDB. */
export function createFileService (components: { store: Store, logger: Logger }, init: FileServiceInit = {}): FileService {
  const { store } = components
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
    // Another key's file is indistinguishable from a missing one.
    if (record === undefined || record.owner !== owner) throw notFound('file', id)
    return record
  }

  async function adopt (owner: string, temp: string, meta: { filename: string, purpose: FilePurpose, id?: string }): Promise<FileRecord> {
    const { size } = await stat(temp)
    const record: FileRecord = {
      id: meta.id ?? newId('file-'),
      object: 'file',
      bytes: size,
      created_at: Math.floor(Date.now() / 1000),
      filename: meta.filename,
      purpose: meta.purpose,
      status: 'processed',
      owner
    }
    await rename(temp, pathOf(record.id))
    await store.files.put(record)
    return record
  }

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
      await store.files.delete(record)
      await rm(pathOf(id), { force: true })
      return record
    },
    pathOf,
    tempPath
  }
}
