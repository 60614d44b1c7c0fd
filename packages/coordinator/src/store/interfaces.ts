import type { KeyStore } from '../accounts/key-store.js'
import type { BatchRecord, FileRecord, TaskFailure, TaskOutcome, TaskRow, UploadSlot } from './types.js'

export interface ListOptions {
  /** Page after this id (in the listing order). */
  after?: string
  limit: number
  order: 'asc' | 'desc'
  filter?: (record: unknown) => boolean
}

/**
 * JSON records keyed by time-sortable id, listed per owner (each API key sees only its own),
 * optionally also found per owner by a `ref` field that never changes once stored.
 */
export interface RecordStore<T extends { id: string, owner: string }> {
  get(id: string): Promise<T | undefined>
  put(record: T): Promise<void>
  delete(record: T): Promise<void>
  /** The owner's records whose `ref` is `value`, oldest first. */
  findByRef(owner: string, value: string): Promise<T[]>
  /** One page of an owner's records (by id, compared bytewise), plus whether more follow. */
  list(owner: string, options: ListOptions): Promise<{ data: T[], hasMore: boolean }>
  /** An owner's records, newest first (ids sort by creation time). */
  newest(owner: string): AsyncGenerator<T>
  all(): AsyncGenerator<T>
  /** Gives every record of `from` to `to` (owner ids that changed); returns how many moved. */
  reassign(from: string, to: string): Promise<number>
}

/**
 * Task rows and the index of pending ones (per batch and model, for the scheduler's queues).
 * Each transition changes the row and its place in the pending index atomically; a transition
 * from the wrong state throws `TASK_WRONG_STATE` and changes nothing. A transition updates the
 * given row object at once (a second transition in the same tick sees the new state) and
 * resolves when it is durable.
 */
export interface TaskStore {
  /**
   * Inserts new rows (ingest): pending ones, and lines already failed at ingest (an invalid
   * request body), which never enter the pending index. With `indexPending: false` the pending
   * rows are not indexed (not returned by `pendingRows`) until `indexPending` names them.
   */
  insert(rows: TaskRow[], options?: { indexPending?: boolean }): Promise<void>
  indexPending(entries: Array<{ batchId: string, model: string, index: number }>): Promise<void>
  get(batchId: string, index: number): Promise<TaskRow | undefined>
  /** Up to `limit` pending rows of one batch and model, after index `afterIndex`, in index order. */
  pendingRows(batchId: string, model: string, limit: number, afterIndex?: number): Promise<TaskRow[]>
  /**
   * Pending rows this coordinator takes to run, like `pendingRows`. On a shared store each row
   * returned is leased to this coordinator (the others skip it) until the lease expires: leases
   * are renewed by `renewLeases` while the coordinator lives, and a result for a row another
   * coordinator has leased since is refused (TASK_WRONG_STATE). On LevelDB: `pendingRows`.
   */
  claim(batchId: string, model: string, limit: number, afterIndex?: number): Promise<TaskRow[]>
  /** Extends the leases this coordinator holds; returns how many. */
  renewLeases(): Promise<number>
  /** How many rows of a batch are in each final state, and the tokens of the completed ones. */
  counts(batchId: string): Promise<TaskCounts>
  /** Every row of a batch, in index order. */
  rows(batchId: string): AsyncGenerator<TaskRow>
  /** Puts a task a coordinator of an earlier version had assigned back in its queue (restart). */
  markPending(row: TaskRow): Promise<void>
  /** Records a verified result of a pending task, after `attempts` attempts. */
  markCompleted(row: TaskRow, outcome: TaskOutcome, attempts?: number): Promise<void>
  /** Reopens a completed task whose result can no longer be trusted (its node was caught lying). */
  markRedo(row: TaskRow): Promise<void>
  markFailed(row: TaskRow, failure: TaskFailure): Promise<void>
  /** Removes every row of a batch (a batch whose validation failed keeps no tasks). */
  deleteBatch(batchId: string): Promise<void>
}

export interface TaskCounts {
  total: number
  completed: number
  failed: number
  inputTokens: number
  outputTokens: number
}

export interface KnownPeer {
  id: string
  multiaddrs: string[]
}

/**
 * Nodes the coordinator has worked with. After a restart it dials them straight away, so work
 * resumes (and models validate) without waiting for nodes to find it again.
 */
export interface PeerBook {
  all(): Promise<KnownPeer[]>
  remember(peer: KnownPeer): Promise<void>
  forget(id: string): Promise<void>
}

/** What the coordinator has learned about one node identity; kept across restarts. */
export interface PeerTrustRecord {
  peerId: string
  /** `allowlisted` is configuration, not stored. */
  level: 'new' | 'trusted' | 'quarantined'
  /** When this identity was first seen (ms since epoch). */
  firstSeen: number
  /** When `level` last changed. */
  since: number
  /** Why it is at its level (a quarantine's cause). */
  reason?: string
  /** Its results that verification checked, by outcome. */
  checks: { passed: number, failed: number }
  /** Verdicts of it (as a verifier) that the majority contradicted. */
  strikes: number
  /** Results accepted from it: the basis of rewards. */
  served: { tasks: number, tokens: number }
}

/** Per-identity trust records, loaded whole at start: there is one per node ever seen. */
export interface TrustBook {
  all(): Promise<PeerTrustRecord[]>
  putMany(records: PeerTrustRecord[]): Promise<void>
}

/** What `Store.exclusive` resolves with when another coordinator holds the duty. */
export const SKIPPED: unique symbol = Symbol('skipped')

/** The coordinator's state: one implementation per backend (`--store`). */
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
  /** Whether other coordinators may share this state (PostgreSQL): then batches are shared too. */
  shared: boolean
  /**
   * Runs a duty only one coordinator may do at a time (finalizing a batch, an expiry sweep):
   * resolves with `fn`'s value, or `skipped` when another coordinator is doing it right now.
   */
  exclusive<T>(duty: string, fn: () => Promise<T>): Promise<T | typeof SKIPPED>
  close(): Promise<void>
}
