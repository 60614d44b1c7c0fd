import { finished } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { TaskCounts, TaskStore } from '../interfaces.js'
import { TaskTransitions, wrongState } from '../transitions.js'
import type { TaskRow } from '../types.js'

/** Rows read per query by `rows()`. */
const PAGE = 1_000

interface Move {
  from: TaskRow
  /** The row as it was before the transition (restored when the store refuses it). */
  before: TaskRow
  to: TaskRow
  resolve: () => void
  reject: (err: unknown) => void
}

export interface PostgresTaskStoreInit {
  /** This coordinator's id: the owner of its leases. */
  instanceId: string
  /** How long a claim lasts without renewal. */
  leaseMs: number
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
/** A field of COPY's text format. */
function copyField (value: string): string {
  return /[\\\n\r\t]/.test(value) ? value.replace(/[\\\n\r\t]/g, c => COPY_ESCAPES[c]) : value
}

function restore (row: TaskRow, before: TaskRow): void {
  for (const key of Object.keys(row) as Array<keyof TaskRow>) if (!(key in before)) delete row[key]
  Object.assign(row, before)
}

const QUEUE_INSERT = `INSERT INTO task_queue (batch_id, model, idx)
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) ON CONFLICT DO NOTHING`

/**
 * The transitions of one commit: a task row changes only if it is still in the state it was
 * read in (and, for a result, no other coordinator holds its lease), and its queue entry is
 * removed or added in the same statement.
 */
const MOVE = `WITH v AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) AS v(batch_id, idx, model, state, row, from_state)
  ), moved AS (
    UPDATE tasks AS t SET state = v.state, row = v.row::json FROM v
    WHERE t.batch_id = v.batch_id AND t.idx = v.idx AND t.state = v.from_state
      AND (v.state <> 'completed' OR NOT EXISTS (
        SELECT 1 FROM task_queue AS q
        WHERE q.batch_id = v.batch_id AND q.model = v.model AND q.idx = v.idx AND q.lease_owner <> $7 AND q.lease_expires > now()))
    RETURNING t.batch_id, t.idx, v.model, v.state, v.from_state
  ), dequeued AS (
    DELETE FROM task_queue AS q USING moved AS m
    WHERE m.from_state = 'pending' AND m.state <> 'pending' AND q.batch_id = m.batch_id AND q.model = m.model AND q.idx = m.idx
  ), queued AS (
    INSERT INTO task_queue (batch_id, model, idx)
    SELECT batch_id, model, idx FROM moved WHERE from_state <> 'pending' AND state = 'pending' ON CONFLICT DO NOTHING
  )
  SELECT batch_id, idx FROM moved`

/**
 * TaskStore on PostgreSQL. Rows live in `tasks`, the pending index and its leases in the narrow
 * `task_queue`. A transition is refused (TASK_WRONG_STATE) when the stored row has moved on
 * since it was read, and a result also when another coordinator holds the row's live lease:
 * whoever moved or claimed it first wins, the other's result is discarded. Failures (a line
 * failed, a batch cancelled) need no lease: any coordinator may stop a batch. Transitions
 * made in the same turn of the event loop go out as one statement (group commit), as on
 * LevelDB.
 */
export class PostgresTaskStore extends TaskTransitions implements TaskStore {
  readonly #pool: pg.Pool
  readonly #instanceId: string
  readonly #leaseSeconds: number
  /** Transitions waiting for the next commit, in groups that touch each row at most once. */
  #groups: Array<Map<string, Move>> = []
  #scheduled = false

  constructor (pool: pg.Pool, init: PostgresTaskStoreInit) {
    super()
    this.#pool = pool
    this.#instanceId = init.instanceId
    this.#leaseSeconds = init.leaseMs / 1000
  }

  async insert (rows: TaskRow[], options: { indexPending?: boolean } = {}): Promise<void> {
    if (rows.length === 0) return
    // COPY: one round trip and no per-row statement, the fastest way rows get into PostgreSQL.
    let text = ''
    for (const row of rows) text += `${copyField(row.batchId)}\t${row.index}\t${row.state}\t${copyField(JSON.stringify(row))}\n`
    const queued = options.indexPending === false ? [] : rows.filter(row => row.state === 'pending')
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      const stream = client.query(copyFrom('COPY tasks (batch_id, idx, state, row) FROM STDIN'))
      stream.end(text)
      await finished(stream)
      if (queued.length > 0) await client.query(QUEUE_INSERT, [queued.map(r => r.batchId), queued.map(r => r.model), queued.map(r => r.index)])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async indexPending (entries: Array<{ batchId: string, model: string, index: number }>): Promise<void> {
    if (entries.length === 0) return
    await this.#pool.query(QUEUE_INSERT, [entries.map(e => e.batchId), entries.map(e => e.model), entries.map(e => e.index)])
  }

  async get (batchId: string, index: number): Promise<TaskRow | undefined> {
    const { rows } = await this.#pool.query<{ row: TaskRow }>('SELECT row FROM tasks WHERE batch_id = $1 AND idx = $2', [batchId, index])
    return rows[0]?.row
  }

  async pendingRows (batchId: string, model: string, limit: number, afterIndex = -1): Promise<TaskRow[]> {
    const { rows } = await this.#pool.query<{ row: TaskRow }>(
      `SELECT t.row FROM task_queue AS q JOIN tasks AS t ON t.batch_id = q.batch_id AND t.idx = q.idx
       WHERE q.batch_id = $1 AND q.model = $2 AND q.idx > $3 ORDER BY q.idx LIMIT $4`, [batchId, model, afterIndex, limit])
    return rows.map(r => r.row)
  }

  async claim (batchId: string, model: string, limit: number, afterIndex = -1): Promise<TaskRow[]> {
    // SKIP LOCKED: coordinators claiming at the same moment take different rows, none waits.
    // Rows this coordinator already holds come back too (its queue drops the ones it has).
    const { rows } = await this.#pool.query<{ row: TaskRow }>(
      `WITH c AS (
         SELECT batch_id, model, idx FROM task_queue
         WHERE batch_id = $1 AND model = $2 AND idx > $3
           AND (lease_owner IS NULL OR lease_owner = $5 OR lease_expires < now())
         ORDER BY idx LIMIT $4 FOR UPDATE SKIP LOCKED
       ), leased AS (
         UPDATE task_queue AS q SET lease_owner = $5, lease_expires = now() + make_interval(secs => $6)
         FROM c WHERE q.batch_id = c.batch_id AND q.model = c.model AND q.idx = c.idx
         RETURNING q.batch_id, q.idx
       )
       SELECT t.row FROM leased JOIN tasks AS t ON t.batch_id = leased.batch_id AND t.idx = leased.idx ORDER BY t.idx`,
      [batchId, model, afterIndex, limit, this.#instanceId, this.#leaseSeconds])
    return rows.map(r => r.row)
  }

  async renewLeases (): Promise<number> {
    const { rowCount } = await this.#pool.query(
      'UPDATE task_queue SET lease_expires = now() + make_interval(secs => $2) WHERE lease_owner = $1', [this.#instanceId, this.#leaseSeconds])
    return rowCount ?? 0
  }

  async counts (batchId: string): Promise<TaskCounts> {
    const { rows } = await this.#pool.query<{ total: string, completed: string, failed: string, input: string | null, output: string | null }>(
      `SELECT count(*) AS total,
         count(*) FILTER (WHERE state = 'completed') AS completed,
         count(*) FILTER (WHERE state = 'failed') AS failed,
         sum((row->'outcome'->>'promptTokens')::bigint) FILTER (WHERE state = 'completed') AS input,
         sum((row->'outcome'->>'completionTokens')::bigint) FILTER (WHERE state = 'completed') AS output
       FROM tasks WHERE batch_id = $1`, [batchId])
    const r = rows[0]
    return { total: Number(r.total), completed: Number(r.completed), failed: Number(r.failed), inputTokens: Number(r.input ?? 0), outputTokens: Number(r.output ?? 0) }
  }

  async * rows (batchId: string): AsyncGenerator<TaskRow> {
    let after = -1
    for (;;) {
      const { rows } = await this.#pool.query<{ row: TaskRow }>('SELECT row FROM tasks WHERE batch_id = $1 AND idx > $2 ORDER BY idx LIMIT $3', [batchId, after, PAGE])
      for (const { row } of rows) yield row
      if (rows.length < PAGE) return
      after = rows[rows.length - 1].row.index
    }
  }

  async deleteBatch (batchId: string): Promise<void> {
    await this.#pool.query('WITH q AS (DELETE FROM task_queue WHERE batch_id = $1) DELETE FROM tasks WHERE batch_id = $1', [batchId])
  }

  protected async move (from: TaskRow, to: TaskRow): Promise<void> {
    const key = `${to.batchId}#${to.index}`
    const before = { ...from }
    Object.assign(from, to)
    let group = this.#groups.at(-1)
    if (group === undefined || group.has(key)) {
      group = new Map()
      this.#groups.push(group)
    }
    const done = new Promise<void>((resolve, reject) => { group.set(key, { from, before, to, resolve, reject }) })
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => { void this.#commit() })
    }
    await done
  }

  async #commit (): Promise<void> {
    const groups = this.#groups
    this.#groups = []
    this.#scheduled = false
    for (const group of groups) {
      const moves = [...group.values()]
      try {
        const { rows } = await this.#pool.query<{ batch_id: string, idx: number }>(MOVE, [
          moves.map(m => m.to.batchId), moves.map(m => m.to.index), moves.map(m => m.to.model), moves.map(m => m.to.state),
          moves.map(m => JSON.stringify(m.to)), moves.map(m => m.before.state), this.#instanceId
        ])
        const applied = new Set(rows.map(r => `${r.batch_id}#${r.idx}`))
        for (const [key, move] of group) {
          if (applied.has(key)) {
            move.resolve()
            continue
          }
          // Moved or claimed by another coordinator first: this transition loses.
          if (move.from.state === move.to.state) restore(move.from, move.before)
          try {
            wrongState(move.before, `${move.before.state} in the store`)
          } catch (err) {
            move.reject(err)
          }
        }
      } catch (err) {
        for (const move of moves) move.reject(err)
      }
    }
  }
}
