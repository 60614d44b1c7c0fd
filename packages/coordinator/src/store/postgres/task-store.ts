import { finished } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { TaskCounts, TaskStore } from '../interfaces.js'
import { transitions, wrongState } from '../transitions.js'
import type { TaskFailure, TaskOutcome, TaskRow } from '../types.js'

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

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
/** A field of COPY's text format. */
function copyField (value: string): string {
  return /[\\\n\r\t]/.test(value) ? value.replace(/[\\\n\r\t]/g, c => COPY_ESCAPES[c]) : value
}

function restore (row: TaskRow, before: TaskRow): void {
  for (const key of Object.keys(row) as Array<keyof TaskRow>) if (!(key in before)) delete row[key]
  Object.assign(row, before)
}

/**
 * TaskStore on PostgreSQL. The pending index is a partial index over the rows themselves
 * (`state = 'pending' AND queued`), so a row and its place in the queue change in one
 * statement. A transition updates the row only if it is still in the state it was read in,
 * and a result only if no other coordinator holds the row's lease: when another coordinator
 * moved or claimed it first, the transition is refused (TASK_WRONG_STATE) and its result
 * discarded. Failures (a line failed, a batch cancelled) need no lease: any coordinator may
 * stop a batch. Transitions made in the same turn of the event loop go out as one
 * UPDATE (group commit), as on LevelDB.
 */
export interface PostgresTaskStoreInit {
  /** This coordinator's id: the owner of its leases. */
  instanceId: string
  /** How long a claim lasts without renewal. */
  leaseMs: number
}

export class PostgresTaskStore implements TaskStore {
  readonly #pool: pg.Pool
  readonly #instanceId: string
  readonly #leaseMs: number
  /** Transitions waiting for the next commit, in groups that touch each row at most once. */
  #groups: Array<Map<string, Move>> = []
  #scheduled = false

  constructor (pool: pg.Pool, init: PostgresTaskStoreInit) {
    this.#pool = pool
    this.#instanceId = init.instanceId
    this.#leaseMs = init.leaseMs
  }

  async insert (rows: TaskRow[], options: { indexPending?: boolean } = {}): Promise<void> {
    if (rows.length === 0) return
    // COPY: one round trip and no per-row statement, the fastest way rows get into PostgreSQL.
    const queued = options.indexPending !== false ? 't' : 'f'
    let text = ''
    for (const row of rows) {
      text += `${copyField(row.batchId)}\t${row.index}\t${copyField(row.model)}\t${row.state}\t${queued}\t${copyField(JSON.stringify(row))}\n`
    }
    const client = await this.#pool.connect()
    try {
      const stream = client.query(copyFrom('COPY tasks (batch_id, idx, model, state, queued, row) FROM STDIN'))
      stream.end(text)
      await finished(stream)
    } finally {
      client.release()
    }
  }

  async indexPending (entries: Array<{ batchId: string, model: string, index: number }>): Promise<void> {
    const byBatch = new Map<string, number[]>()
    for (const e of entries) {
      const list = byBatch.get(e.batchId) ?? []
      list.push(e.index)
      byBatch.set(e.batchId, list)
    }
    for (const [batchId, indexes] of byBatch) {
      await this.#pool.query('UPDATE tasks SET queued = true WHERE batch_id = $1 AND idx = ANY($2::int[]) AND NOT queued', [batchId, indexes])
    }
  }

  async get (batchId: string, index: number): Promise<TaskRow | undefined> {
    const { rows } = await this.#pool.query<{ row: TaskRow }>('SELECT row FROM tasks WHERE batch_id = $1 AND idx = $2', [batchId, index])
    return rows[0]?.row
  }

  async pendingRows (batchId: string, model: string, limit: number, afterIndex = -1): Promise<TaskRow[]> {
    const { rows } = await this.#pool.query<{ row: TaskRow }>(
      `SELECT row FROM tasks WHERE batch_id = $1 AND model = $2 AND state = 'pending' AND queued AND idx > $3
       ORDER BY idx LIMIT $4`, [batchId, model, afterIndex, limit])
    return rows.map(r => r.row)
  }

  async claim (batchId: string, model: string, limit: number, afterIndex = -1): Promise<TaskRow[]> {
    // SKIP LOCKED: coordinators claiming at the same moment take different rows, none waits.
    // Rows this coordinator already holds come back too (its queue drops the ones it has).
    const { rows } = await this.#pool.query<{ row: TaskRow }>(
      `UPDATE tasks AS t SET lease_owner = $5, lease_expires = now() + make_interval(secs => $6)
       FROM (
         SELECT batch_id, idx FROM tasks
         WHERE batch_id = $1 AND model = $2 AND state = 'pending' AND queued AND idx > $3
           AND (lease_owner IS NULL OR lease_owner = $5 OR lease_expires < now())
         ORDER BY idx LIMIT $4 FOR UPDATE SKIP LOCKED
       ) AS c
       WHERE t.batch_id = c.batch_id AND t.idx = c.idx
       RETURNING t.row`, [batchId, model, afterIndex, limit, this.#instanceId, this.#leaseMs / 1000])
    return rows.map(r => r.row).sort((a, b) => a.index - b.index)
  }

  async renewLeases (): Promise<number> {
    const { rowCount } = await this.#pool.query(
      `UPDATE tasks SET lease_expires = now() + make_interval(secs => $2)
       WHERE lease_owner = $1 AND state = 'pending'`, [this.#instanceId, this.#leaseMs / 1000])
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

  async markPending (row: TaskRow): Promise<void> {
    await this.#move(row, transitions.pending(row))
  }

  async markCompleted (row: TaskRow, outcome: TaskOutcome, attempts = row.attempts): Promise<void> {
    await this.#move(row, transitions.completed(row, outcome, attempts))
  }

  async markRedo (row: TaskRow): Promise<void> {
    await this.#move(row, transitions.redo(row))
  }

  async markFailed (row: TaskRow, failure: TaskFailure): Promise<void> {
    await this.#move(row, transitions.failed(row, failure))
  }

  async deleteBatch (batchId: string): Promise<void> {
    await this.#pool.query('DELETE FROM tasks WHERE batch_id = $1', [batchId])
  }

  async #move (from: TaskRow, to: TaskRow): Promise<void> {
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
        // Only rows still in the state they were read in change; the others are reported.
        const { rows } = await this.#pool.query<{ batch_id: string, idx: number }>(
          `UPDATE tasks AS t SET state = v.state, row = v.row::json, lease_owner = NULL, lease_expires = NULL
           FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[]) AS v(batch_id, idx, state, row, from_state)
           WHERE t.batch_id = v.batch_id AND t.idx = v.idx AND t.state = v.from_state
             AND (v.state <> 'completed' OR t.lease_owner IS NULL OR t.lease_owner = $6)
           RETURNING t.batch_id, t.idx`,
          [moves.map(m => m.to.batchId), moves.map(m => m.to.index), moves.map(m => m.to.state), moves.map(m => JSON.stringify(m.to)), moves.map(m => m.before.state), this.#instanceId])
        const applied = new Set(rows.map(r => `${r.batch_id}#${r.idx}`))
        for (const [key, move] of group) {
          if (applied.has(key)) {
            move.resolve()
            continue
          }
          // Moved elsewhere first (another coordinator): this transition loses.
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
