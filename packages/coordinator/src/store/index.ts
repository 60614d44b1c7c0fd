import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { KeyStore } from '../accounts/key-store.js'
import { RecordStore } from './record-store.js'
import { TaskStore } from './task-store.js'
import { PeerBook } from './peer-book.js'
import { TrustBook } from './trust-book.js'
import type { BatchRecord, FileRecord, UploadSlot } from './types.js'

export * from './types.js'
export { TaskStore } from './task-store.js'
export { RecordStore } from './record-store.js'
export { PeerBook } from './peer-book.js'
export type { KnownPeer } from './peer-book.js'
export { TrustBook } from './trust-book.js'
export type { PeerTrustRecord } from './trust-book.js'
export type { ListOptions, RecordStoreInit } from './record-store.js'

export interface Store {
  files: RecordStore<FileRecord>
  batches: RecordStore<BatchRecord>
  /** Pending Dria-style uploads, keyed by their secret token. */
  uploads: RecordStore<UploadSlot>
  tasks: TaskStore
  keys: KeyStore
  peers: PeerBook
  /** What the coordinator learned about each node identity (trust, checks, work served). */
  trust: TrustBook
  /** Where file bodies live (one file per id). */
  filesDir: string
  close(): Promise<void>
}

/** Opens (or creates) the coordinator's state under `dataDir`: LevelDB metadata + file bodies on disk. */
export async function openStore (dataDir: string): Promise<Store> {
  const filesDir = join(dataDir, 'files')
  await mkdir(filesDir, { recursive: true })
  // A larger write buffer than LevelDB's 4 MB: splitting a large file writes millions of rows,
  // and fewer, larger level-0 tables mean much less compaction work. 16 MB: two of them (one
  // being flushed) are part of the coordinator's peak memory.
  const db = new Level<string, unknown>(join(dataDir, 'db'), { valueEncoding: 'json', writeBufferSize: 16 * 1024 * 1024, maxFileSize: 8 * 1024 * 1024 })
  await db.open()
  const batches = new RecordStore<BatchRecord>(db, 'batches', { ref: batch => batch.input_file_id })
  await batches.ensureRefIndex()
  return {
    files: new RecordStore<FileRecord>(db, 'files'),
    batches,
    uploads: new RecordStore<UploadSlot>(db, 'uploads'),
    tasks: new TaskStore(db),
    keys: new KeyStore(db),
    peers: new PeerBook(db),
    trust: new TrustBook(db),
    filesDir,
    close: async () => { await db.close() }
  }
}
