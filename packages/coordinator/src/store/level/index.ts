import { join } from 'node:path'
import { Level } from 'level'
import type { Store } from '../interfaces.js'
import type { BatchRecord, FileRecord, UploadSlot } from '../types.js'
import { LevelKeyStore } from './key-store.js'
import { LevelPeerBook } from './peer-book.js'
import { LevelRecordStore } from './record-store.js'
import { LevelTaskStore } from './task-store.js'
import { LevelTrustBook } from './trust-book.js'

/** Opens (or creates) the LevelDB store under `dataDir/db`; file bodies live in `filesDir`. */
export async function openLevelStore (dataDir: string, filesDir: string): Promise<Store> {
  // A larger write buffer than LevelDB's 4 MB: splitting a large file writes millions of rows,
  // and fewer, larger level-0 tables mean much less compaction work. 16 MB: two of them (one
  // being flushed) are part of the coordinator's peak memory.
  const db = new Level<string, unknown>(join(dataDir, 'db'), { valueEncoding: 'json', writeBufferSize: 16 * 1024 * 1024, maxFileSize: 8 * 1024 * 1024 })
  await db.open()
  const batches = new LevelRecordStore<BatchRecord>(db, 'batches', { ref: batch => batch.input_file_id })
  await batches.ensureRefIndex()
  return {
    files: new LevelRecordStore<FileRecord>(db, 'files'),
    batches,
    uploads: new LevelRecordStore<UploadSlot>(db, 'uploads'),
    tasks: new LevelTaskStore(db),
    keys: new LevelKeyStore(db),
    peers: new LevelPeerBook(db),
    trust: new LevelTrustBook(db),
    filesDir,
    // One process owns a LevelDB: every duty is its own.
    shared: false,
    exclusive: async (_duty, fn) => await fn(),
    close: async () => { await db.close() }
  }
}
