import { DriaError } from '@dria/protocol'
import type { BatchOp, Db, Sublevel } from './db.js'
import { INDEX_VALUE, indexFromKey, pendingKey, prefixRange, taskKey } from './keys.js'
import type { TaskFailure, TaskOutcome, TaskRow, TaskState } from './types.js'

/**
 * Task rows and the index of pending ones (per batch and model, for the scheduler's queues).
 * Each transition is one atomic LevelDB batch that writes the row and adds or removes its
 * pending key, so a crash leaves every task in exactly one state. Rows assigned when a crash
 * hit are found by the full scan that recounts a batch on restart, so they need no index.
 */
export class TaskStore {
  readonly #db: Db
  readonly #rows: Sublevel<TaskRow>
  readonly #pending: Sublevel<string>

  constructor (db: Db) {
    this.#db = db
    this.#rows = db.sublevel<string, TaskRow>('tasks', { valueEncoding: 'json' })
    this.#pending = db.sublevel<string, string>('pending', { valueEncoding: 'utf8' })
  }

  /**
   * Inserts new rows (ingest): pending ones, and lines already failed at ingest (an invalid
   * request body), which never enter the pending index. With `indexPending: false` the pending
   * rows are not indexed yet: `indexPending` does it later (see there).
   */
  async insert (rows: TaskRow[], options: { indexPending?: boolean } = {}): Promise<void> {
    const ops: BatchOp[] = []
    for (const row of rows) {
      ops.push({ type: 'put', sublevel: this.#rows, key: taskKey(row.batchId, row.index), value: row })
      if (row.state === 'pending' && options.indexPending !== false) ops.push({ type: 'put', sublevel: this.#pending, key: pendingKey(row.batchId, row.model, row.index), value: INDEX_VALUE })
    }
    await this.#db.batch(ops)
  }

  /**
   * Adds pending rows inserted with `indexPending: false` to the pending index. Writing a large
   * file's rows first and its index after keeps each pass's keys in one ascending run, which
   * LevelDB stores without rewriting what it already has (interleaved, every flush overlaps all
   * earlier rows and compaction rewrites them again and again).
   */
  async indexPending (entries: Array<{ batchId: string, model: string, index: number }>): Promise<void> {
    await this.#db.batch(entries.map(e => ({ type: 'put' as const, sublevel: this.#pending, key: pendingKey(e.batchId, e.model, e.index), value: INDEX_VALUE })))
  }

  async get (batchId: string, index: number): Promise<TaskRow | undefined> {
    return await this.#rows.get(taskKey(batchId, index))
  }

  /** Up to `limit` pending rows of one batch and model, after index `afterIndex`. */
  async pendingRows (batchId: string, model: string, limit: number, afterIndex = -1): Promise<TaskRow[]> {
    const range = prefixRange(batchId, model)
    if (afterIndex >= 0) range.gt = pendingKey(batchId, model, afterIndex)
    const keys = await this.#pending.keys({ ...range, limit }).all()
    if (keys.length === 0) return []
    const rows = await this.#rows.getMany(keys.map(k => taskKey(batchId, indexFromKey(k))))
    return rows.filter((row): row is TaskRow => row !== undefined && row.state === 'pending')
  }

  async * rows (batchId: string): AsyncGenerator<TaskRow> {
    for await (const row of this.#rows.values(prefixRange(batchId))) yield row
  }

  async markAssigned (row: TaskRow, peer: string): Promise<void> {
    this.#expect(row, 'pending')
    const next: TaskRow = { ...row, state: 'assigned', attempts: row.attempts + 1, peer }
    await this.#move(row, next)
  }

  /** Puts an assigned task back in its queue (rejected, failed retryably, or orphaned by a restart). */
  async markPending (row: TaskRow): Promise<void> {
    this.#expect(row, 'assigned')
    await this.#move(row, { ...row, state: 'pending', peer: undefined })
  }

  async markCompleted (row: TaskRow, outcome: TaskOutcome): Promise<void> {
    this.#expect(row, 'assigned')
    await this.#move(row, { ...row, state: 'completed', outcome })
  }

  /** Reopens a completed task whose result can no longer be trusted (its node was caught lying). */
  async markRedo (row: TaskRow): Promise<void> {
    this.#expect(row, 'completed')
    await this.#move(row, { ...row, state: 'pending', peer: undefined, outcome: undefined })
  }

  async markFailed (row: TaskRow, failure: TaskFailure): Promise<void> {
    if (row.state !== 'pending' && row.state !== 'assigned') this.#wrongState(row, 'pending or assigned')
    await this.#move(row, { ...row, state: 'failed', failure })
  }

  /** Removes every row of a batch (a batch whose validation failed keeps no tasks). */
  async deleteBatch (batchId: string): Promise<void> {
    const range = prefixRange(batchId)
    await Promise.all([this.#rows.clear(range), this.#pending.clear(range)])
  }

  async #move (from: TaskRow, to: TaskRow): Promise<void> {
    const ops: BatchOp[] = [
      { type: 'put', sublevel: this.#rows, key: taskKey(to.batchId, to.index), value: to }
    ]
    const pending = { sublevel: this.#pending, key: pendingKey(to.batchId, to.model, to.index) }
    if (from.state === 'pending' && to.state !== 'pending') ops.push({ type: 'del', ...pending })
    if (from.state !== 'pending' && to.state === 'pending') ops.push({ type: 'put', ...pending, value: INDEX_VALUE })
    await this.#db.batch(ops)
    Object.assign(from, to)
  }

  #expect (row: TaskRow, state: TaskState): void {
    if (row.state !== state) this.#wrongState(row, state)
  }

  #wrongState (row: TaskRow, expected: string): never {
    throw new DriaError('TASK_WRONG_STATE', `task ${row.batchId}#${row.index} is ${row.state}, expected ${expected}`)
  }
}
