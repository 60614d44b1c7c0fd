import pg from 'pg'
import type { Store } from '../interfaces.js'
import type { BatchRecord, FileRecord, UploadSlot } from '../types.js'
import { PostgresKeyStore, PostgresPeerBook, PostgresTrustBook } from './books.js'
import { PostgresRecordStore } from './record-store.js'
import { migrate } from './schema.js'
import { PostgresTaskStore } from './task-store.js'

export interface PostgresStoreInit {
  /** `postgres://user:password@host:port/database`. */
  url: string
  /** Where file bodies live (shared by every coordinator of the database). */
  filesDir: string
  /** Connections held at most. */
  poolSize: number
}

/** Connects to PostgreSQL and brings its schema up to date (idempotent). */
export async function openPostgresStore (init: PostgresStoreInit): Promise<Store> {
  const pool = new pg.Pool({ connectionString: init.url, max: init.poolSize })
  // An idle client that loses its connection (server restart) must not crash the process:
  // the pool drops it and the next query connects anew.
  pool.on('error', () => {})
  try {
    await migrate(pool)
  } catch (err) {
    await pool.end()
    throw err
  }
  return {
    files: new PostgresRecordStore<FileRecord>(pool, 'files'),
    batches: new PostgresRecordStore<BatchRecord>(pool, 'batches', { ref: batch => batch.input_file_id }),
    uploads: new PostgresRecordStore<UploadSlot>(pool, 'uploads'),
    tasks: new PostgresTaskStore(pool),
    keys: new PostgresKeyStore(pool),
    peers: new PostgresPeerBook(pool),
    trust: new PostgresTrustBook(pool),
    filesDir: init.filesDir,
    close: async () => { await pool.end() }
  }
}
