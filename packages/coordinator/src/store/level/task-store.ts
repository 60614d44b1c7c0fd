import type { BatchOp, Db, Sublevel } from './db.js'
import { INDEX_VALUE, indexFromKey, pendingKey, prefixRange, taskKey } from './keys.js'
import type { TaskCounts, TaskStore } from '../interfaces.js'
import { TaskTransitions } from '../transitions.js'
import type { TaskRow } from '../types.js'

/**
 * TaskStore on LevelDB. Each transition writes the row and adds or removes its pending key in
 * one LevelDB batch, so a crash
 * leaves every task in exactly one state. Work in flight is not written at all: it is still
 * pending in the store, and a restart simply runs it again. Transitions made in the same turn
 * of the event loop are committed in one LevelDB batch (group commit): one write per burst
 * of answers instead of one per task.
 */
export class LevelTaskStore extends TaskTransitions implements TaskStore {
  readonly #db: Db
  readonly #rows: Sublevel<TaskRow>
  readonly #pending: Sublevel<string>
  #queued: BatchOp[] = []
  #commit: Promise<void> | undefined

  constructor (db: Db) {
    super()
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

  async claim (batchId: string, model: string, limit: number, afterIndex = -1): Promise<TaskRow[]> {
    return await this.pendingRows(batchId, model, limit, afterIndex)
  }

  async renewLeases (): Promise<number> {
    return 0
  }

  async counts (batchId: string): Promise<TaskCounts> {
    const counts = { total: 0, completed: 0, failed: 0, inputTokens: 0, outputTokens: 0 }
    for await (const row of this.rows(batchId)) {
      counts.total++
      if (row.state === 'failed') counts.failed++
      if (row.state !== 'completed') continue
      counts.completed++
      counts.inputTokens += row.outcome?.promptTokens ?? 0
      counts.outputTokens += row.outcome?.completionTokens ?? 0
    }
    return counts
  }

  async * rows (batchId: string): AsyncGenerator<TaskRow> {
    for await (const row of this.#rows.values(prefixRange(batchId))) yield row
  }

  /** Removes every row of a batch (a batch whose validation failed keeps no tasks). */
  async deleteBatch (batchId: string): Promise<void> {
    const range = prefixRange(batchId)
    await Promise.all([this.#rows.clear(range), this.#pending.clear(range)])
  }

  /**
   * Applies a transition to `from` at once (so a second transition in the same tick sees the
   * new state) and resolves when it is durable.
   */
  protected async move (from: TaskRow, to: TaskRow): Promise<void> {
    const pending = { sublevel: this.#pending, key: pendingKey(to.batchId, to.model, to.index) }
    this.#queued.push({ type: 'put', sublevel: this.#rows, key: taskKey(to.batchId, to.index), value: to })
    if (from.state === 'pending' && to.state !== 'pending') this.#queued.push({ type: 'del', ...pending })
    if (from.state !== 'pending' && to.state === 'pending') this.#queued.push({ type: 'put', ...pending, value: INDEX_VALUE })
    Object.assign(from, to)
    this.#commit ??= new Promise<void>(resolve => setImmediate(resolve)).then(async () => {
      const ops = this.#queued
      this.#queued = []
      this.#commit = undefined
      await this.#db.batch(ops)
    })
    await this.#commit
  }
}
