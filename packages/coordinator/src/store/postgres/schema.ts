import type pg from 'pg'

/**
 * Schema versions, applied in order once each. Append, never edit: a database created by an
 * earlier version is brought up to date on start. Ids and owners compare bytewise (`C`), as
 * LevelDB keys do, so listings page in the same order on both backends. Bodies are `json`, not
 * `jsonb`: stored as given (jsonb refuses `\u0000` in strings, which user input may contain).
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE records (
     kind text COLLATE "C" NOT NULL,
     id text COLLATE "C" NOT NULL,
     owner text COLLATE "C" NOT NULL,
     ref text COLLATE "C",
     data json NOT NULL,
     PRIMARY KEY (kind, id)
   );
   CREATE INDEX records_by_owner ON records (kind, owner, id);
   CREATE INDEX records_by_ref ON records (kind, owner, ref, id) WHERE ref IS NOT NULL;
   CREATE TABLE tasks (
     batch_id text COLLATE "C" NOT NULL,
     idx integer NOT NULL,
     state text NOT NULL,
     row json NOT NULL,
     PRIMARY KEY (batch_id, idx)
   );
   -- The pending index (one entry per pending, queued row) and the leases on it: narrow rows,
   -- so that claiming and renewing never rewrite the task rows themselves.
   CREATE TABLE task_queue (
     batch_id text COLLATE "C" NOT NULL,
     model text COLLATE "C" NOT NULL,
     idx integer NOT NULL,
     lease_owner text,
     lease_expires timestamptz,
     PRIMARY KEY (batch_id, model, idx)
   );
   CREATE INDEX task_queue_leased ON task_queue (lease_owner) WHERE lease_owner IS NOT NULL;
   CREATE TABLE api_keys (id text PRIMARY KEY, hash text NOT NULL UNIQUE, data json NOT NULL);
   CREATE TABLE static_key_owners (hash text PRIMARY KEY, owner text NOT NULL);
   CREATE TABLE known_peers (id text PRIMARY KEY, data json NOT NULL);
   CREATE TABLE trust (peer_id text PRIMARY KEY, data json NOT NULL);`
]

/** Any constant: the advisory lock that keeps two coordinators from migrating at once. */
const MIGRATION_LOCK = 0x44524941

/** Brings the schema up to date; safe to run from several coordinators starting together. */
export async function migrate (pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query('CREATE TABLE IF NOT EXISTS dria_schema (version integer NOT NULL)')
    const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM dria_schema')
    const current = rows[0]?.version ?? 0
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version - 1])
      await client.query('INSERT INTO dria_schema (version) VALUES ($1)', [version])
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK')
    throw err
  } finally {
    client.release()
  }
}
