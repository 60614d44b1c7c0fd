import { DriaError, RejectionCode } from '@dria/protocol'
import type { Hello, ModelCapacity, NodeReport, TaskRejection, TaskRequest, TaskResult } from '@dria/protocol'
import type { Session } from '@dria/p2p'
import type { PeerId } from '@libp2p/interface'
import {
  DEFAULT_ACK_TIMEOUT_MS, DEFAULT_PING_INTERVAL_MS, DEFAULT_PING_TIMEOUT_MS, DEFAULT_SESSION_SWEEP_MS, MAX_SILENT_FAILURES, PING_MISSES
} from '../constants.js'
import { EarnedCapacity } from './capacity.js'

/** A node's answer to one task. */
export type TaskReply = { result: TaskResult, rejection?: undefined } | { rejection: TaskRejection, result?: undefined }

export interface NodeSessionInit {
  /** How often the node is pinged. Default 2 s. */
  pingIntervalMs?: number
  /** No pong for this long: the node is frozen or gone; the session ends. Default 6 s. */
  pingTimeoutMs?: number
  /** A task not acknowledged within this long is taken back. Default 5 s. */
  ackTimeoutMs?: number
  /** Deadlines are checked this often. Default 250 ms. */
  sweepIntervalMs?: number
  /** Where the earned-capacity window starts. Default 2. */
  initialWindow?: number
}

export interface RunOptions {
  /** The task is taken back (and cancelled on the node) after this long. */
  deadlineMs: number
  signal?: AbortSignal
}

export interface NodeSession {
  readonly id: string
  readonly peerId: PeerId
  readonly hello: Hello
  readonly version: string
  readonly openedAt: number
  /** Models the node said it serves (pruned when it refuses one). */
  readonly models: Map<string, ModelCapacity>
  readonly capacity: EarnedCapacity
  /** Tasks sent and not yet answered. */
  readonly outstanding: number
  readonly open: boolean
  /** Round trip of the last ping. */
  readonly rttMs: number
  /** Tasks it answered with a result in this session. */
  readonly answered: number
  /**
   * Sends a task and resolves with the node's answer (result or refusal). Rejects with a
   * retryable DriaError: TASK_NO_ACK, TASK_TIMEOUT (past the deadline; the node is told to
   * cancel), SESSION_CLOSED; or with the signal's reason when the caller aborts (also cancelled).
   */
  run(request: TaskRequest, options: RunOptions): Promise<TaskReply>
  /** Measured milliseconds per completion token for `model` on this node, once known. */
  msPerToken(model: string): number | undefined
  /** Tells the node what the coordinator thinks of it. */
  report(report: NodeReport): void
  close(err?: Error): void
  onClose(listener: (err?: Error) => void): void
}

interface Pending {
  request: TaskRequest
  sentAt: number
  ackBy: number
  deadline: number
  acked: boolean
  resolve: (reply: TaskReply) => void
  reject: (err: unknown) => void
  onAbort?: () => void
  signal?: AbortSignal
}

const EWMA_WEIGHT = 0.2

/**
 * The coordinator's side of one node's session: tasks out, acks and answers back, pings to tell
 * a frozen node from a slow one, per-task deadlines, and the window of tasks the node has
 * earned. A node that stops answering pings, or lets several tasks in a row go unanswered,
 * loses the session (and with it every task it held).
 */
export function createNodeSession (session: Session, init: NodeSessionInit = {}): NodeSession {
  const { channel } = session
  const pingIntervalMs = init.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS
  const pingTimeoutMs = init.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS
  const ackTimeoutMs = init.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS
  const models = new Map(session.remote.models.map(m => [m.name, m]))
  const capacity = new EarnedCapacity(session.remote.slots + session.remote.queueDepth, init.initialWindow)
  const pending = new Map<string, Pending>()
  const speed = new Map<string, number>()
  const closeListeners: Array<(err?: Error) => void> = []
  let lastPong = Date.now()
  let pingSentAt = 0
  /** Pings sent since the last pong: only pings we managed to send count against the node. */
  let unansweredPings = 0
  let nonce = 0
  let rttMs = 0
  let silentFailures = 0
  let answered = 0

  function settle (taskId: string): Pending | undefined {
    const entry = pending.get(taskId)
    if (entry === undefined) return undefined
    pending.delete(taskId)
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort)
    return entry
  }

  function fail (taskId: string, err: unknown, cancel: boolean): void {
    const entry = settle(taskId)
    if (entry === undefined) return
    if (cancel) channel.send({ cancel: { taskId } })
    entry.reject(err)
  }

  /** A task the node did not handle in time: shrink its window; several in a row end the session. */
  function unanswered (taskId: string, code: string, message: string): void {
    capacity.congested()
    fail(taskId, new DriaError(code, message, { retryable: true }), true)
    if (++silentFailures >= MAX_SILENT_FAILURES) close(new DriaError('SESSION_UNRESPONSIVE', `${silentFailures} tasks in a row went unanswered`, { retryable: true }))
  }

  function observe (entry: Pending, result: TaskResult): void {
    const tokens = result.usage?.completionTokens ?? 0
    if (result.error != null || tokens === 0) return
    const sample = (Date.now() - entry.sentAt) / tokens
    const previous = speed.get(result.model)
    speed.set(result.model, previous === undefined ? sample : previous + EWMA_WEIGHT * (sample - previous))
  }

  channel.onFrame(frame => {
    // Whatever the node sends shows it is alive, not only its pongs (a busy node is late to pong).
    lastPong = Date.now()
    unansweredPings = 0
    if (frame.ack != null) {
      const { taskId, rejection } = frame.ack
      if (rejection != null) {
        if (rejection.code === RejectionCode.REJECTION_CODE_AT_CAPACITY) capacity.congested()
        settle(taskId)?.resolve({ rejection })
        return
      }
      const entry = pending.get(taskId)
      if (entry !== undefined) entry.acked = true
    } else if (frame.response != null) {
      const { result, rejection } = frame.response
      const taskId = result?.taskId ?? rejection?.taskId ?? ''
      const entry = settle(taskId)
      if (entry === undefined) return // late: already timed out or cancelled
      silentFailures = 0
      if (result != null) {
        answered++
        capacity.answered()
        observe(entry, result)
        entry.resolve({ result })
      } else if (rejection != null) {
        entry.resolve({ rejection })
      }
    } else if (frame.pong != null) {
      if (frame.pong.nonce === nonce) rttMs = lastPong - pingSentAt
    } else {
      close(new DriaError('SESSION_FRAME_INVALID', 'unexpected frame from the node'))
    }
  })

  const sweepMs = init.sweepIntervalMs ?? DEFAULT_SESSION_SWEEP_MS
  let lastSweep = Date.now()
  const sweep = setInterval(() => {
    const now = Date.now()
    // This timer ran late: our own event loop stalled, and answers that arrived meanwhile are
    // still unread behind it. Judge deadlines on the next round, after they are read.
    const stalled = now - lastSweep > sweepMs * 4
    lastSweep = now
    if (stalled) return
    // Silence alone could be our own event loop stalling (pongs wait unread behind this timer):
    // the node must also have left several pings unanswered that we did send.
    if (now - lastPong > pingTimeoutMs && unansweredPings >= PING_MISSES) {
      close(new DriaError('SESSION_UNRESPONSIVE', `no pong for ${now - lastPong} ms`, { retryable: true }))
      return
    }
    if (now - pingSentAt >= pingIntervalMs) {
      pingSentAt = now
      unansweredPings++
      channel.send({ ping: { nonce: ++nonce } })
    }
    for (const [taskId, entry] of pending) {
      if (!entry.acked && now > entry.ackBy) unanswered(taskId, 'TASK_NO_ACK', `no acknowledgement within ${ackTimeoutMs} ms`)
      else if (now > entry.deadline) unanswered(taskId, 'TASK_TIMEOUT', `no answer within ${entry.deadline - entry.sentAt} ms`)
      if (!channel.open) return
    }
  }, sweepMs)
  sweep.unref()

  function close (err?: Error): void {
    channel.close(err)
  }

  channel.onClose(err => {
    clearInterval(sweep)
    const reason = new DriaError('SESSION_CLOSED', `session with ${session.channel.remotePeer.toString()} closed${err === undefined ? '' : `: ${err.message}`}`, { retryable: true, cause: err })
    for (const taskId of [...pending.keys()]) fail(taskId, reason, false)
    closeListeners.splice(0).forEach(listener => { listener(err) })
  })

  return {
    id: channel.remotePeer.toString(),
    peerId: channel.remotePeer,
    hello: session.remote,
    version: session.version,
    openedAt: Date.now(),
    models,
    capacity,
    get outstanding () { return pending.size },
    get open () { return channel.open },
    get rttMs () { return rttMs },
    get answered () { return answered },
    async run (request, options) {
      options.signal?.throwIfAborted()
      if (!channel.open) throw new DriaError('SESSION_CLOSED', 'the session is closed', { retryable: true })
      if (pending.has(request.taskId)) throw new DriaError('TASK_DUPLICATE', `task ${request.taskId} is already on this node`)
      return await new Promise<TaskReply>((resolve, reject) => {
        const now = Date.now()
        const entry: Pending = { request, sentAt: now, ackBy: now + ackTimeoutMs, deadline: now + options.deadlineMs, acked: false, resolve, reject, signal: options.signal }
        if (options.signal !== undefined) {
          const signal = options.signal
          entry.onAbort = () => { fail(request.taskId, signal.reason, true) }
          signal.addEventListener('abort', entry.onAbort, { once: true })
        }
        pending.set(request.taskId, entry)
        channel.send({ task: request })
      })
    },
    msPerToken: model => speed.get(model),
    report (report) {
      channel.send({ report })
    },
    close,
    onClose (listener) {
      if (!channel.open) listener()
      else closeListeners.push(listener)
    }
  }
}
