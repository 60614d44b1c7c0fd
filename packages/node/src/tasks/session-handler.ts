import { DriaError, RejectionCode } from '@dria/protocol'
import type { Logger, NodeReport, TaskRequest, TaskResult } from '@dria/protocol'
import type { Session } from '@dria/p2p'
import type { PreparedTask, TaskRunner } from './task-runner.js'
import type { WorkQueue } from './work-queue.js'

/** What happened to one task, for status pages, logs and metrics. */
export interface FinishedTask {
  taskId: string
  model: string
  /** `generate` (chat, completion, embedding) or `score` (verifying another node's result). */
  work: 'generate' | 'score'
  /** Peer id of the coordinator that sent it. */
  coordinator: string
  /** The error code when the engine failed; undefined on success. */
  error?: string
  promptTokens: number
  completionTokens: number
  engineMs: number
}

export interface TaskObserver {
  taskFinished?(task: FinishedTask): void
  /** A task refused at admission (at capacity, model not served, shutting down…). */
  taskRejected?(code: RejectionCode): void
  /** The latest report a coordinator sent about this node. */
  coordinatorReport?(coordinator: string, report: NodeReport): void
}

export interface SessionHandlerComponents {
  runner: TaskRunner
  queue: WorkQueue
  logger: Logger
  observer?: TaskObserver
}

export interface SessionHandlerInit {
  /** Deadline of a task whose request sets none, from receipt. */
  defaultTimeoutMs: number
}

export interface SessionHandler {
  /** Serves the tasks of a coordinator's session until it closes. */
  attach(session: Session): void
  /** From now on new tasks are refused with SHUTTING_DOWN; queued ones are handed back, running ones continue. */
  close(): void
  /** Sessions open now. */
  readonly sessions: number
}

const CANCELLED = new DriaError('TASK_CANCELLED', 'the coordinator cancelled the task', { retryable: true })
const TIMED_OUT = new DriaError('TASK_TIMEOUT', 'the task ran past its deadline', { retryable: true })
/** How often running tasks' deadlines are checked. */
const DEADLINE_SWEEP_MS = 250

interface RunningTask {
  controller: AbortController
  /** When the task must be given up (ms since the epoch). */
  deadline: number
  timedOut: boolean
}
const ABANDONED = new DriaError('TASK_ABANDONED', 'the session closed before the answer', { retryable: true })

/**
 * The node's side of task sessions: every task is acknowledged at once (queued, or refused so
 * the coordinator can go elsewhere), run in arrival order within the node's slots and queue,
 * and answered with a signed result on the same session. Pings are answered, cancels abort.
 */
export function createSessionHandler (components: SessionHandlerComponents, init: SessionHandlerInit): SessionHandler {
  const { runner, queue, observer } = components
  const log = components.logger.child({ module: 'sessions' })
  let closing = false
  let sessions = 0

  function attach (session: Session): void {
    const { channel } = session
    const coordinator = channel.remotePeer.toString()
    const tasks = new Map<string, RunningTask>()
    sessions++
    log.info({ coordinator, agent: session.remote.agent, version: session.version }, 'coordinator session opened')

    const refuse = (request: TaskRequest, code: RejectionCode, message: string): void => {
      observer?.taskRejected?.(code)
      channel.send({ ack: { taskId: request.taskId, rejection: { taskId: request.taskId, code, message } } })
    }

    const answer = (result: TaskResult): void => {
      tasks.delete(result.taskId)
      channel.send({ response: { result } })
    }

    function onTask (request: TaskRequest): void {
      if (closing) return refuse(request, RejectionCode.REJECTION_CODE_SHUTTING_DOWN, 'node is shutting down')
      if (tasks.has(request.taskId)) return refuse(request, RejectionCode.REJECTION_CODE_DUPLICATE_TASK, 'a task with this id is already running')
      const prepared = runner.prepare(request)
      if (!('request' in prepared)) return refuse(request, prepared.code, prepared.message)
      const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : init.defaultTimeoutMs
      const running: RunningTask = { controller: new AbortController(), deadline: Date.now() + timeoutMs, timedOut: false }
      const { signal } = running.controller
      const received = performance.now()
      tasks.set(request.taskId, running)
      const admitted = queue.admit({
        signal,
        run: async () => { await runTask(prepared, signal, performance.now() - received) },
        dropped: (reason) => {
          // A cancel or a closed session needs no answer; a timeout or a shutdown is said, so
          // the coordinator reassigns the task at once.
          if (reason === 'cleared') answer(handedBack(request, 'NODE_SHUTTING_DOWN', 'the node is shutting down'))
          else if (running.timedOut) answer(handedBack(request, 'TASK_TIMEOUT', 'the task waited longer than its deadline'))
          else tasks.delete(request.taskId)
        }
      })
      if (!admitted) {
        tasks.delete(request.taskId)
        return refuse(request, RejectionCode.REJECTION_CODE_AT_CAPACITY, `all ${queue.slots} slots and ${queue.queueDepth} queue places are taken`)
      }
      channel.send({ ack: { taskId: request.taskId } })
    }

    async function runTask (task: PreparedTask, signal: AbortSignal, queuedMs: number): Promise<void> {
      const result = await runner.run(task, signal, queuedMs)
      const running = tasks.get(result.taskId)
      observer?.taskFinished?.({
        taskId: result.taskId,
        model: result.model,
        work: 'score' in task ? 'score' : 'generate',
        coordinator,
        error: result.error?.code,
        promptTokens: result.usage?.promptTokens ?? 0,
        completionTokens: result.usage?.completionTokens ?? 0,
        engineMs: result.timings?.engineMs ?? 0
      })
      // Cancelled or abandoned: nobody waits for it. Timed out: say so.
      if (running === undefined || (running.controller.signal.aborted && !running.timedOut)) {
        tasks.delete(result.taskId)
        return
      }
      answer(result)
    }

    channel.onFrame(frame => {
      if (frame.task != null) onTask(frame.task)
      else if (frame.cancel != null) tasks.get(frame.cancel.taskId)?.controller.abort(CANCELLED)
      else if (frame.ping != null) channel.send({ pong: frame.ping })
      else if (frame.report != null) observer?.coordinatorReport?.(coordinator, frame.report)
      else channel.close(new DriaError('SESSION_FRAME_INVALID', 'unexpected frame from the coordinator'))
    })
    // One timer per session for every task's deadline, not one per task.
    const sweep = setInterval(() => {
      const now = Date.now()
      for (const running of tasks.values()) {
        if (running.timedOut || now < running.deadline) continue
        running.timedOut = true
        running.controller.abort(TIMED_OUT)
      }
    }, DEADLINE_SWEEP_MS)
    sweep.unref()
    channel.onClose(err => {
      sessions--
      clearInterval(sweep)
      for (const running of tasks.values()) running.controller.abort(ABANDONED)
      tasks.clear()
      log.info({ coordinator, reason: err?.message }, 'coordinator session closed')
    })
  }

  return {
    attach,
    close: () => {
      closing = true
      queue.clearWaiting()
    },
    get sessions () { return sessions }
  }
}

function handedBack (request: TaskRequest, code: string, message: string): TaskResult {
  // Unsigned: it claims nothing about the model's output, only that this node did not run it.
  return {
    taskId: request.taskId,
    attempt: request.attempt,
    model: request.model,
    modelDigest: '',
    output: new Uint8Array(0),
    error: { code, message, retryable: true },
    signature: new Uint8Array(0)
  }
}

/** One observer that tells each of `observers` (absent ones skipped). */
export function combineObservers (observers: Array<TaskObserver | undefined>): TaskObserver | undefined {
  const present = observers.filter((o): o is TaskObserver => o !== undefined)
  if (present.length <= 1) return present[0]
  return {
    taskFinished: task => { present.forEach(o => o.taskFinished?.(task)) },
    taskRejected: code => { present.forEach(o => o.taskRejected?.(code)) },
    coordinatorReport: (coordinator, report) => { present.forEach(o => o.coordinatorReport?.(coordinator, report)) }
  }
}
