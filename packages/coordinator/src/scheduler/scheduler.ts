import { DriaError, RejectionCode, isDriaError } from '@dria/protocol'
import type { Logger, TaskResponse } from '@dria/protocol'
import type { TaskClient } from '@dria/p2p'
import {
  DEFAULT_AUDIT_RATE, DEFAULT_MAX_TASK_FAILURES, DEFAULT_QUEUE_WINDOW, DEFAULT_TASK_TIMEOUT_MS
} from '../constants.js'
import type { NetworkView, NodePeer } from '../network/index.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { Store, TaskFailure, TaskOutcome, TaskRow } from '../store/index.js'
import { createAuditor } from './auditor.js'
import { taskRequestOf, verifyAnswer } from './task-request.js'

export interface SchedulerComponents {
  store: Store
  network: NetworkView
  client: TaskClient
  logger: Logger
  metrics: CoordinatorMetrics | null
}

export interface SchedulerInit {
  taskTimeoutMs?: number
  maxFailures?: number
  queueWindow?: number
  /** Share of deterministic results re-executed on other nodes. Default 0.05. */
  auditRate?: number
}

/** A task reached a final state (completed or failed). */
export type SettledListener = (row: TaskRow) => void

export interface Scheduler {
  /** Starts dispatching the pending tasks of a batch for the given models. */
  activate(batchId: string, models: string[]): void
  /** Stops dispatching a batch and aborts its tasks in flight; resolves when none is left. */
  deactivate(batchId: string): Promise<void>
  onSettled(listener: SettledListener): void
  /** Task attempts dispatched and not yet answered. */
  inFlight(): number
  /** Reloads a batch's queues from the store (rows that became pending again). */
  requeue(batchId: string): void
  /** Resolves once results of `peerId` being recorded right now are recorded (and announced). */
  settledFrom(peerId: string): Promise<void>
  stop(): Promise<void>
}

/** Pending tasks of one (batch, model), refilled from LevelDB a window at a time. */
interface Queue {
  batchId: string
  model: string
  rows: TaskRow[]
  /** Highest index loaded from the store; retries are pushed back into `rows` directly. */
  cursor: number
  exhausted: boolean
  loading: boolean
}

interface Flight {
  row: TaskRow
  controller: AbortController
  done: Promise<void>
}

/**
 * Assigns pending tasks to peers that serve their model, keeping each peer within its
 * advertised slots (so work spreads in proportion to capacity and speed: fast peers free
 * slots sooner), then verifies and records each outcome. Rejected and retryably failed tasks
 * go back to their queue; a task fails for good after `maxFailures` failures.
 */
export function createScheduler (components: SchedulerComponents, init: SchedulerInit = {}): Scheduler {
  const { store, network, client, metrics } = components
  const log = components.logger.child({ module: 'scheduler' })
  const taskTimeoutMs = init.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS
  const maxFailures = init.maxFailures ?? DEFAULT_MAX_TASK_FAILURES
  const window = init.queueWindow ?? DEFAULT_QUEUE_WINDOW
  const auditor = createAuditor(components, { rate: init.auditRate ?? DEFAULT_AUDIT_RATE, taskTimeoutMs, onSlotFree: (peer) => { freeSlot(peer) } })
  const queues = new Map<string, Queue[]>()
  const flights = new Map<string, Flight>()
  const failures = new Map<string, number>()
  const recordingFrom = new Map<string, Set<Promise<void>>>()
  const listeners: SettledListener[] = []
  let stopped = false
  let pumping = false
  let pumpAgain = false

  const key = (row: TaskRow): string => `${row.batchId}#${row.index}`

  function freeSlots (peer: NodePeer): number {
    return Math.max(0, peer.record.slotsTotal - peer.inflight)
  }

  async function refill (queue: Queue): Promise<void> {
    if (queue.exhausted || queue.loading) return
    queue.loading = true
    try {
      const rows = await store.tasks.pendingRows(queue.batchId, queue.model, window, queue.cursor)
      const inQueue = new Set(queue.rows.map(key))
      for (const row of rows) {
        if (!flights.has(key(row)) && !inQueue.has(key(row))) queue.rows.push(row)
      }
      if (rows.length > 0) queue.cursor = rows[rows.length - 1].index
      if (rows.length < window) queue.exhausted = true
    } finally {
      queue.loading = false
    }
  }

  /** Hands out as many queued tasks as there are free slots, oldest batch first. */
  async function pumpOnce (): Promise<void> {
    for (const batchQueues of queues.values()) {
      for (const queue of batchQueues) {
        let peers = network.peersFor(queue.model).filter(p => freeSlots(p) > 0)
        while (peers.length > 0 && !stopped) {
          if (queue.rows.length === 0) {
            await refill(queue)
            if (queue.rows.length === 0) break
          }
          const peer = peers[0]
          const row = queue.rows.shift() as TaskRow
          if (!queues.has(row.batchId)) break
          dispatch(row, peer, queue)
          peers = peers.filter(p => freeSlots(p) > 0).sort((a, b) => freeSlots(b) - freeSlots(a))
        }
      }
    }
  }

  function pump (): void {
    if (stopped) return
    if (pumping) { pumpAgain = true; return }
    pumping = true
    pumpOnce()
      .catch(err => { log.error({ err }, 'dispatch loop failed') })
      .finally(() => {
        pumping = false
        if (pumpAgain) { pumpAgain = false; pump() }
      })
  }

  /** Gives a peer's slot back: to an audit waiting for it, else to the queues. */
  function freeSlot (peer: NodePeer): void {
    peer.inflight--
    if (!auditor.slotFreed(peer)) pump()
  }

  function dispatch (row: TaskRow, peer: NodePeer, queue: Queue): void {
    peer.inflight++
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      freeSlot(peer)
    }
    const controller = new AbortController()
    const flight: Flight = { row, controller, done: Promise.resolve() }
    flights.set(key(row), flight)
    flight.done = run(row, peer, queue, controller.signal, release)
      .catch(err => { log.error({ err, taskId: key(row) }, 'task bookkeeping failed') })
      .finally(() => {
        flights.delete(key(row))
        release()
      })
  }

  async function run (row: TaskRow, peer: NodePeer, queue: Queue, signal: AbortSignal, release: () => void): Promise<void> {
    await store.tasks.markAssigned(row, peer.id)
    const taskId = key(row)
    const endTimer = metrics?.taskSeconds.startTimer()
    const counted = (outcome: string): void => {
      endTimer?.()
      metrics?.taskAttempts.inc({ outcome })
    }
    let response: TaskResponse
    try {
      response = await client.run(peer.peerId, taskRequestOf(row, taskId, taskTimeoutMs), {
        signal: AbortSignal.any([signal, AbortSignal.timeout(taskTimeoutMs)])
      })
    } catch (err) {
      if (signal.aborted) return await store.tasks.markPending(row)
      counted('unreachable')
      network.backOff(peer)
      return await retry(row, queue, failureOf(err, 'node_failure'))
    }

    if (response.rejection != null) {
      counted('rejected')
      return await rejected(row, peer, queue, response.rejection.code, response.rejection.message)
    }
    const result = response.result
    if (result == null) {
      counted('malformed')
      return await retry(row, queue, { code: 'node_failure', message: 'empty response' })
    }
    if (result.error != null) {
      counted('failed')
      const failure = { code: result.error.code, message: result.error.message }
      return result.error.retryable ? await retry(row, queue, failure) : await settle(row, () => store.tasks.markFailed(row, { ...failure, status: 400 }))
    }
    let outcome: TaskOutcome
    try {
      outcome = await verifyAnswer(result, row, taskId, peer)
    } catch (err) {
      const code = (err as DriaError).code ?? 'verification_failed'
      counted('refused')
      metrics?.verificationFailures.inc({ code })
      log.warn({ peer: peer.id, taskId, code }, 'result rejected by verification')
      network.backOff(peer)
      return await retry(row, queue, failureOf(err, 'verification_failed'))
    }
    let kept: TaskOutcome
    try {
      // The node is done with this task: its slot must not wait on other nodes' answers.
      release()
      kept = await auditor.review(row, taskId, { peer, outcome }, signal)
    } catch (err) {
      if (signal.aborted) return await store.tasks.markPending(row)
      counted('inconclusive')
      return await retry(row, queue, failureOf(err, 'verification_failed'))
    }
    if (network.isQuarantined(kept.peer)) {
      // Caught while this answer was on its way: it is not trusted, and not the task's fault.
      counted('distrusted')
      await store.tasks.markPending(row)
      if (queues.has(row.batchId)) queue.rows.unshift(row)
      return
    }
    counted('completed')
    // Tracked so that reopening a caught node's results sees every result it had recorded.
    const recording = settle(row, () => store.tasks.markCompleted(row, kept))
    const pending = recording.catch(() => {})
    const forPeer = recordingFrom.get(kept.peer) ?? new Set<Promise<void>>()
    recordingFrom.set(kept.peer, forPeer.add(pending))
    try {
      await recording
    } finally {
      forPeer.delete(pending)
      if (forPeer.size === 0) recordingFrom.delete(kept.peer)
    }
  }

  async function rejected (row: TaskRow, peer: NodePeer, queue: Queue, code: RejectionCode, message: string): Promise<void> {
    switch (code) {
      case RejectionCode.REJECTION_CODE_INVALID_REQUEST:
        return await settle(row, () => store.tasks.markFailed(row, { code: 'invalid_request', message, status: 400 }))
      case RejectionCode.REJECTION_CODE_MODEL_NOT_SERVED:
        network.forgetModel(peer, row.model)
        break
      default:
        // At capacity or shutting down: someone else's work filled the slots; not the task's fault.
        network.backOff(peer)
    }
    await store.tasks.markPending(row)
    queue.rows.unshift(row)
  }

  async function retry (row: TaskRow, queue: Queue, failure: TaskFailure): Promise<void> {
    const count = (failures.get(key(row)) ?? 0) + 1
    if (count >= maxFailures) {
      failures.delete(key(row))
      return await settle(row, () => store.tasks.markFailed(row, { ...failure, status: 500 }))
    }
    failures.set(key(row), count)
    await store.tasks.markPending(row)
    if (queues.has(row.batchId)) queue.rows.unshift(row)
  }

  async function settle (row: TaskRow, transition: () => Promise<void>): Promise<void> {
    failures.delete(key(row))
    await transition()
    metrics?.tasksSettled.inc({ state: row.state })
    listeners.forEach(listener => { listener(row) })
  }

  network.onChange(pump)
  const ticker = setInterval(pump, 1_000)
  ticker.unref()

  return {
    activate (batchId, models) {
      if (queues.has(batchId)) return
      queues.set(batchId, models.map(model => ({ batchId, model, rows: [], cursor: -1, exhausted: false, loading: false })))
      models.forEach(model => { network.want(model) })
      pump()
    },
    async deactivate (batchId) {
      queues.delete(batchId)
      const mine = [...flights.values()].filter(f => f.row.batchId === batchId)
      mine.forEach(f => { f.controller.abort() })
      await Promise.all(mine.map(f => f.done))
    },
    onSettled (listener) {
      listeners.push(listener)
    },
    inFlight: () => flights.size,
    async settledFrom (peerId) {
      await Promise.all(recordingFrom.get(peerId) ?? [])
    },
    requeue (batchId) {
      for (const queue of queues.get(batchId) ?? []) {
        queue.cursor = -1
        queue.exhausted = false
      }
      pump()
    },
    async stop () {
      stopped = true
      clearInterval(ticker)
      const all = [...flights.values()]
      all.forEach(f => { f.controller.abort() })
      await Promise.all(all.map(f => f.done))
    }
  }
}

function failureOf (err: unknown, fallback: string): TaskFailure {
  if (isDriaError(err)) return { code: err.code, message: err.message }
  return { code: fallback, message: err instanceof Error ? err.message : String(err) }
}
