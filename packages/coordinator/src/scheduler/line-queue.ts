import type { TaskStore } from '../store/index.js'
import { createJob } from './job.js'
import type { Job } from './job.js'
import type { WorkSource } from './fair-queue.js'

export interface LineQueueInit {
  batchId: string
  model: string
  owner: string
  weight: number
  /** Pending rows loaded per refill. */
  window: number
  /** Keys of jobs that exist elsewhere (running, being checked): not loaded twice. */
  isLive: (key: string) => boolean
}

/**
 * The pending lines of one batch for one model, loaded from the store a window at a time,
 * with lines that must run again (retries, redone results) served first.
 */
export class LineQueue implements WorkSource {
  readonly batchId: string
  readonly model: string
  readonly owner: string
  weight: number
  vt = 0
  readonly #store: TaskStore
  readonly #init: LineQueueInit
  readonly #ready: Job[] = []
  readonly #again: Job[] = []
  #cursor = -1
  #exhausted = false
  #loading: Promise<void> | undefined
  /** A rewind came during a load: that load's cursor is stale. */
  #rewindPending = false
  readonly #afterLoad: Array<() => void> = []

  constructor (store: TaskStore, init: LineQueueInit) {
    this.#store = store
    this.#init = init
    this.batchId = init.batchId
    this.model = init.model
    this.owner = init.owner
    this.weight = init.weight
  }

  /** True when nothing is ready and nothing is left to load. */
  get drained (): boolean {
    return this.#ready.length === 0 && this.#again.length === 0 && this.#exhausted
  }

  /**
   * True when `refill()` would load: few jobs ready, more in the store, no load in flight. A
   * cheap check, so the scheduler can ask every queue on each dispatch without making promises.
   */
  get wantsRefill (): boolean {
    return !this.#exhausted && this.#loading === undefined && this.#ready.length <= this.#init.window / 4
  }

  /** Ready jobs in memory (the rest is still in the store). */
  get size (): number {
    return this.#ready.length + this.#again.length
  }

  peek (): Job | undefined {
    return this.#again[0] ?? this.#ready[0]
  }

  take (): Job {
    return (this.#again.shift() ?? this.#ready.shift())!
  }

  /** A job that must run again goes to the front. */
  putBack (job: Job): void {
    this.#again.push(job)
  }

  /** Rows may have become pending again (redone results): load from the start next time. */
  rewind (): void {
    this.#cursor = -1
    this.#exhausted = false
    if (this.#loading !== undefined) this.#rewindPending = true
  }

  /**
   * Runs `fn` once no load is in flight. A load reads rows, then checks which are already
   * taken: a row written as done in between would look pending to it, so the scheduler lets
   * go of finished rows only through here.
   */
  whenIdle (fn: () => void): void {
    if (this.#loading === undefined) fn()
    else this.#afterLoad.push(fn)
  }

  /** Loads the next window when few jobs are ready; resolves true when it added any. */
  async refill (): Promise<boolean> {
    if (this.#loading === undefined && !this.wantsRefill) return false
    const before = this.#ready.length
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined
      if (this.#rewindPending) {
        this.#rewindPending = false
        this.#cursor = -1
        this.#exhausted = false
      }
      this.#afterLoad.splice(0).forEach(fn => { fn() })
    })
    await this.#loading
    return this.#ready.length > before
  }

  async #load (): Promise<void> {
    const { batchId, model, window, isLive } = this.#init
    // On a shared store the rows loaded are leased to this coordinator (see TaskStore.claim).
    const rows = await this.#store.claim(batchId, model, window, this.#cursor)
    const queued = new Set([...this.#ready, ...this.#again].map(job => job.key))
    for (const row of rows) {
      const key = `${row.batchId}#${row.index}`
      if (isLive(key) || queued.has(key)) continue
      this.#ready.push(createJob({ key, owner: this.owner, kind: row.kind, model: row.model, json: row.body, row }))
    }
    if (rows.length > 0) this.#cursor = rows[rows.length - 1].index
    if (rows.length < window) this.#exhausted = true
  }
}
