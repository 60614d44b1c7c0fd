import { createHash } from 'node:crypto'
import pg from 'pg'
import { SKIPPED } from '../interfaces.js'
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
  /** This coordinator's id: the owner of its task leases (unique per running process). */
  instanceId: string
  /** How long a task lease lasts without renewal. */
  leaseMs: number
}

/** Advisory lock keys are 64-bit integers: a duty's name maps to one. */
function lockKey (duty: string): string {
  return createHash('sha256').update(duty).digest().readBigInt64BE().toString()
}

/** Connects to PostgreSQL and brings its schema up to date (idempotent). */
export async function openPostgresStore (init: PostgresStoreInit): Promise<Store> {
  const pool = new pg.Pool({ connectionString: init.url, max: init.poolSize })
  // Exclusive duties hold a connection for as long as they run (a webhook's retries take
  // minutes): their own pool, so they never starve the store's queries.
  const duties = new pg.Pool({ connectionString: init.url, max: init.poolSize })
  // An idle client that loses its connection (server restart) must not crash the process:
  // the pool drops it and the next query connects anew.
  pool.on('error', () => {})
  duties.on('error', () => {})
  try {
    await migrate(pool)
  } catch (err) {
    await Promise.all([pool.end(), duties.end()])
    throw err
  }
  return {
    files: new PostgresRecordStore<FileRecord>(pool, 'files'),
    batches: new PostgresRecordStore<BatchRecord>(pool, 'batches', { ref: batch => batch.input_file_id }),
    uploads: new PostgresRecordStore<UploadSlot>(pool, 'uploads'),
    tasks: new PostgresTaskStore(pool, init),
    keys: new PostgresKeyStore(pool),
    peers: new PostgresPeerBook(pool),
    trust: new PostgresTrustBook(pool),
    filesDir: init.filesDir,
    shared: true,
    async exclusive (duty, fn) {
      // A session-level advisory lock on a connection held for the duty: if this coordinator
      // dies, its connection closes and the lock is free again.
      const client = await duties.connect()
      const key = lockKey(duty)
      try {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key])
        if (!rows[0].locked) return SKIPPED
        try {
          return await fn()
        } finally {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key])
        }
      } finally {
        client.release()
      }
    },
    close: async () => { await Promise.all([pool.end(), duties.end()]) }
  }
}
