import { DriaError, RejectionCode, isDriaError } from '@dria/protocol'
import type { Logger, TaskKindName, TaskRequest } from '@dria/protocol'
import {
  BACKUP_FACTOR, DEFAULT_BACKUP_AFTER_MS, DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE_WINDOW, DEFAULT_REALTIME_SHARE, DEFAULT_TASK_TIMEOUT_MS,
  HELD_RECHECK_MS, MAX_SPLIT_CHECKS, UNTRUSTED_MAX_WINDOW
} from '../constants.js'
import { timeTaskRun } from '../metrics/index.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { NetworkView, NodeSession, TaskReply } from '../network/index.js'
import type { Store, TaskFailure, TaskOutcome, TaskRow } from '../store/index.js'
import type { Trust } from '../trust/index.js'
import { createChecker, verifyResult } from '../verification/index.js'
import type { Checker } from '../verification/index.js'
import { createDeadlines } from './deadline.js'
import { FairQueue } from './fair-queue.js'
import { createJob, newTaskId, taskRequestOf, tokenBudget } from './job.js'
import type { Flight, Job } from './job.js'
import { LineQueue } from './line-queue.js'

export interface SchedulerComponents {
  store: Store
  network: NetworkView
  trust: Trust
  logger: Logger
  metrics: CoordinatorMetrics | null
}

export interface SchedulerInit {
  /** Upper bound of any task's deadline. Default 5 min. */
  taskTimeoutMs?: number
  /** Attempts (all causes, backups included) after which a line fails. Default 30. */
  maxAttempts?: number
  /** Pending lines loaded per refill of a (batch, model) queue. Default 512. */
  queueWindow?: number
  /** Share of dispatches real-time requests get first when batch work is waiting too. Default 0.5. */
  realtimeShare?: number
  /** Accept results no node can check (no other node serves the weights) instead of holding them. Default false. */
  acceptUnverified?: boolean
  /** A straggler gets a backup on an idle node after max(this, 3x the model's typical task). Default 0.5 s. */
  backupAfterMs?: number
}

/** A task reached a final state (completed or failed). */
export type SettledListener = (row: TaskRow) => void

export interface ActivateOptions {
  /** The API key that owns the batch: fair share is per owner first. */
  owner: string
  /** Relative share (a plan may weight its batches). Default 1. */
  weight?: number
}

export interface RealtimeRequest {
  owner: string
  kind: TaskKindName
  model: string
  /** The request body JSON (validated). */
  json: string
}

export interface Scheduler {
  /** Starts dispatching the pending tasks of a batch for the given models. */
  activate(batchId: string, models: string[], options: ActivateOptions): void
  /** Stops dispatching a batch and abandons its work in flight; resolves once its results being recorded are. */
  deactivate(batchId: string): Promise<void>
  onSettled(listener: SettledListener): void
  /** Runs one request now (ahead of batch work, within the real-time share) and resolves with its verified result. */
  runRealtime(request: RealtimeRequest, signal?: AbortSignal): Promise<TaskOutcome>
  /** Task attempts dispatched and not yet answered. */
  inFlight(): number
  /** Jobs waiting in memory for `model` (or all models). */
  queued(model?: string): number
  /** Reloads a batch's queues from the store (rows that became pending again). */
  requeue(batchId: string): void
  /** Resolves once results of `peerId` being recorded right now are recorded (and announced). */
  settledFrom(peerId: string): Promise<void>
  stop(): Promise<void>
}

interface Targeted {
  request: TaskRequest
  deadlineMs: number
  signal: AbortSignal
  resolve: (reply: TaskReply) => void
  reject: (err: unknown) => void
}

interface Held {
  job: Job
  producer: NodeSession
  outcome: TaskOutcome
}

const DECAY = 0.99
/** Why other attempts of a job stop: it is settled or being checked. One object: abort() without a reason builds a DOMException with a stack each time. */
const SUPERSEDED = new DriaError('TASK_SUPERSEDED', 'another attempt of the task settled it', { retryable: true })

/**
 * Gives each node as much work as it has earned room for, the moment it has room: per-node
 * windows grow with answers and shrink on timeouts (AIMD), every node holds a task or two
 * ahead so its engine never waits on us, batches and owners share the network by weighted
 * fair queuing, real-time requests go first within their share, and stragglers at the end of
 * a batch get a backup on an idle node (first verified answer wins). Every answer is checked
 * (signature, structure, and by other nodes when trust says so) before it counts; a node's
 * failures are never the line's: only what the line itself causes counts toward failing it.
 */
export function createScheduler (components: SchedulerComponents, init: SchedulerInit = {}): Scheduler {
  const { store, network, trust, metrics } = components
  const log = components.logger.child({ module: 'scheduler' })
  const maxAttempts = init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
  const window = init.queueWindow ?? DEFAULT_QUEUE_WINDOW
  const realtimeShare = init.realtimeShare ?? DEFAULT_REALTIME_SHARE
  const backupAfterMs = init.backupAfterMs ?? DEFAULT_BACKUP_AFTER_MS
  const deadlines = createDeadlines({ sessionsFor: model => network.sessionsFor(model) }, { maxMs: init.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS })
  const fair = new FairQueue()
  /** Active batches: their queues, one per model. */
  const batches = new Map<string, LineQueue[]>()
  const byModel = new Map<string, Set<LineQueue>>()
  const realtime = new Map<string, Job[]>()
  const targeted = new Map<string, Targeted[]>()
  /** Jobs dispatched at least once and not settled (queued again, running, or being checked). */
  const live = new Map<string, Job>()
  const held = new Set<Held>()
  /** Results being checked, by producer: an unproven node's count against its window. */
  const inCheck = new Map<string, number>()
  const recordings = new Map<string, Set<Promise<void>>>()
  const listeners: SettledListener[] = []
  const recent = { realtime: 0, batch: 0 }
  let flights = 0
  let stopped = false

  const checker: Checker = createChecker({
    sessionsFor: model => network.sessionsFor(model),
    trust,
    run: runTargeted,
    newTaskId,
    deadline: (session, model, tokens) => deadlines.forCheck(session, model, tokens),
    logger: components.logger,
    metrics
  })

  // ---- dispatch ----------------------------------------------------------------------------

  /**
   * Tasks `session` may hold now: its earned window, and less while its identity is unproven;
   * an unproven node's results awaiting their check count too, so a liar that answers at once
   * gets no more work than its checks keep up with.
   */
  function roomOf (session: NodeSession, window: number): number {
    return trust.level(session.id) === 'new' ? window - (inCheck.get(session.id) ?? 0) : window
  }

  function windowOf (session: NodeSession): number {
    const level = trust.level(session.id)
    if (level === 'quarantined') return 0
    if (level !== 'new') return session.capacity.limit
    return Math.min(session.capacity.limit, Math.max(UNTRUSTED_MAX_WINDOW, trust.status(session.id).checks.passed))
  }

  function servable (session: NodeSession): string[] {
    const models: string[] = []
    for (const model of session.models.keys()) if (network.admits(session, model)) models.push(model)
    return models
  }

  function realtimeTurn (batchWaiting: boolean): boolean {
    if (!batchWaiting) return true
    return recent.realtime < realtimeShare * (recent.realtime + recent.batch + 1)
  }

  /** The next job for `session`: real-time within its share, else batch work by fair share. */
  function nextJob (session: NodeSession): Job | undefined {
    const models = servable(session)
    const sources: LineQueue[] = []
    for (const model of models) for (const queue of byModel.get(model) ?? []) sources.push(queue)
    const source = fair.pick(sources)
    for (const model of models) {
      const waiting = realtime.get(model)
      if (waiting !== undefined && waiting.length > 0 && realtimeTurn(source !== undefined)) {
        recent.realtime = recent.realtime * DECAY + 1
        recent.batch *= DECAY
        return waiting.shift()
      }
    }
    for (const queue of sources) if (queue.wantsRefill) void refill(queue)
    if (source === undefined) return undefined
    const job = source.take()
    fair.charge(source, tokenBudget(job))
    recent.batch = recent.batch * DECAY + 1
    recent.realtime *= DECAY
    return job
  }

  async function refill (queue: LineQueue): Promise<void> {
    try {
      if (await queue.refill()) pumpModel(queue.model)
    } catch (err) {
      log.error({ err, batchId: queue.batchId }, 'queue refill failed')
    }
  }

  /** Fills `session` up to its window: targeted work (checks) first, then queued jobs, then backups. */
  function fill (session: NodeSession): void {
    if (stopped || !session.open) return
    // Checks go first, within the whole window: a node's own results awaiting checks must not
    // hold up the checks it does for others (two unproven nodes would wait on each other).
    const window = windowOf(session)
    const checks = targeted.get(session.id)
    while (session.outstanding < window && checks !== undefined && checks.length > 0) sendTargeted(session, checks.shift()!)
    const room = roomOf(session, window)
    while (session.outstanding < room) {
      const job = nextJob(session) ?? backupFor(session)
      if (job === undefined) return
      dispatch(job, session)
    }
  }

  /** Least loaded first, so work that arrives a request at a time (real-time) spreads over the nodes. */
  function pumpModel (model: string): void {
    const sessions = network.sessionsFor(model)
    if (sessions.length > 1) sessions.sort((a, b) => a.outstanding / Math.max(1, windowOf(a)) - b.outstanding / Math.max(1, windowOf(b)))
    for (const session of sessions) fill(session)
  }

  function pumpAll (): void {
    for (const session of network.sessions()) fill(session)
  }

  function dispatch (job: Job, session: NodeSession): void {
    job.attempts++
    live.set(job.key, job)
    const taskId = newTaskId()
    const deadlineMs = deadlines.forTask(session, job.model, tokenBudget(job))
    const request = taskRequestOf(job, taskId, Math.max(1_000, deadlineMs - 1_000))
    const flight: Flight = { job, session, taskId, controller: new AbortController(), startedAt: Date.now() }
    job.flights.add(flight)
    flights++
    const endTimer = metrics?.taskSeconds.startTimer()
    const endRun = timeTaskRun(metrics, job.model)
    session.run(request, { deadlineMs, signal: flight.controller.signal }).then(
      (reply): { reply?: TaskReply, err?: unknown } => ({ reply }),
      (err: unknown): { reply?: TaskReply, err?: unknown } => ({ err })
    ).then(({ reply, err }) => {
      job.flights.delete(flight)
      flights--
      endTimer?.()
      endRun(reply)
      // The node has room again now, whatever checking its answer takes.
      fill(session)
      if (flight.controller.signal.aborted || job.settled) return
      if (reply === undefined) return nodeFailed(job, session, err)
      job.replies++
      return onReply(flight, request, reply).finally(() => { job.replies-- })
    }).catch(err => {
      // A bug here must not strand the line: it runs again.
      log.error({ err, job: job.key }, 'task bookkeeping failed')
      job.checking = false
      again(job)
    })
  }

  // ---- answers -----------------------------------------------------------------------------

  function counted (outcome: string): void {
    metrics?.taskAttempts.inc({ outcome })
  }

  /** The node, not the line, failed (no answer, timeout, session gone): try elsewhere. */
  function nodeFailed (job: Job, session: NodeSession, err: unknown): void {
    counted(isDriaError(err, 'TASK_TIMEOUT') ? 'timeout' : 'unreachable')
    log.debug({ peer: session.id, job: job.key, err }, 'task attempt failed')
    again(job)
  }

  async function onReply (flight: Flight, request: TaskRequest, reply: TaskReply): Promise<void> {
    const { job, session } = flight
    if (reply.rejection !== undefined) {
      counted('rejected')
      switch (reply.rejection.code) {
        case RejectionCode.REJECTION_CODE_INVALID_REQUEST:
          return lineFailed(job, session, { code: 'invalid_request', message: reply.rejection.message, status: 400 })
        case RejectionCode.REJECTION_CODE_MODEL_NOT_SERVED:
          network.dropModel(session, job.model)
          return again(job)
        default:
          return again(job)
      }
    }
    const result = reply.result
    if (result.error != null) {
      counted('failed')
      if (result.error.retryable) return again(job)
      return lineFailed(job, session, { code: result.error.code.toLowerCase(), message: result.error.message, status: 400 })
    }
    let outcome: TaskOutcome
    try {
      outcome = await verifyResult(result, expectations(job, session, request))
      // A llama.cpp node samples with dria-1, which any verifier can check token by token;
      // claiming another sampler would only weaken the check.
      if (session.hello.engine === 'llamacpp' && job.kind !== 'embedding' && outcome.sampler !== 'dria-1') {
        throw new DriaError('RESULT_WRONG_SAMPLER', `a llama.cpp node answered with sampler ${outcome.sampler ?? 'none'}`)
      }
    } catch (err) {
      const code = (err as DriaError).code ?? 'verification_failed'
      counted('refused')
      metrics?.verificationFailures.inc({ code })
      // It signed what it sent: a malformed or inconsistent answer is a proven lie.
      trust.provenLie(session.id, `${code} on a result`)
      return again(job)
    }
    if (job.settled) return
    deadlines.completed(job.model, Date.now() - flight.startedAt)
    await accept(job, session, outcome)
  }

  function expectations (job: Job, session: NodeSession, request: TaskRequest): Parameters<typeof verifyResult>[1] {
    return {
      peerId: session.peerId,
      taskId: request.taskId,
      attempt: request.attempt,
      kind: job.kind,
      modelDigest: session.models.get(job.model)?.digest ?? '',
      maxTokens: job.maxTokens,
      responseFormat: job.responseFormat,
      requestBytes: job.body.byteLength,
      mediaParts: job.mediaParts
    }
  }

  /** A structurally sound answer: checked by other nodes if trust says so, then kept. */
  async function accept (job: Job, producer: NodeSession, outcome: TaskOutcome): Promise<void> {
    if (!trust.shouldCheck(producer.id)) return complete(job, producer, outcome)
    job.checking = true
    // One answer is being checked: other attempts of the job are no longer needed.
    for (const flight of job.flights) flight.controller.abort(SUPERSEDED)
    await runCheck({ job, producer, outcome })
  }

  async function runCheck (entry: Held): Promise<void> {
    const { job, producer, outcome } = entry
    job.abort ??= new AbortController()
    const signal = job.abort.signal
    let verdict
    inCheck.set(producer.id, (inCheck.get(producer.id) ?? 0) + 1)
    try {
      verdict = await checker.check({ kind: job.kind, model: job.model, json: job.json, seed: job.seed, maxTokens: job.maxTokens, producer, outcome }, signal)
    } catch (err) {
      if (signal.aborted) return
      log.warn({ err, job: job.key }, 'check failed')
      verdict = { verdict: 'inconclusive' as const, split: false }
    } finally {
      const left = inCheck.get(producer.id)! - 1
      if (left === 0) inCheck.delete(producer.id)
      else inCheck.set(producer.id, left)
      // Room again for the producer (after the verdict below has been applied).
      setImmediate(() => fill(producer))
    }
    if (job.settled) return
    switch (verdict.verdict) {
      case 'pass': {
        const recounted = verdict.usage
        if (recounted !== undefined && (recounted.promptTokens !== outcome.promptTokens || recounted.completionTokens !== outcome.completionTokens)) {
          counted('usage_lie')
          trust.provenLie(producer.id, `claimed usage ${outcome.promptTokens}+${outcome.completionTokens}, verifiers counted ${recounted.promptTokens}+${recounted.completionTokens}`)
          job.checking = false
          return again(job)
        }
        trust.passedCheck(producer.id)
        job.checking = false
        return complete(job, producer, { ...outcome, auditedBy: verdict.by })
      }
      case 'fail':
        counted('caught')
        trust.provenLie(producer.id, `result failed verification (${verdict.reason}) by ${verdict.by.length} verifier(s)`)
        job.checking = false
        return again(job)
      case 'reject':
        counted('rejected_by_check')
        trust.strike(producer.id, `result failed the only verifier's check (${verdict.reason})`)
        job.checking = false
        return again(job)
      case 'inconclusive':
        job.checking = false
        if (verdict.split && ++job.splitChecks >= MAX_SPLIT_CHECKS) {
          return settleFailed(job, { code: 'verification_inconclusive', message: `Verifiers split without a majority on ${job.splitChecks} answers to this request: none could be verified.`, status: 500 })
        }
        return again(job)
      case 'unavailable':
        if (init.acceptUnverified === true) {
          job.checking = false
          return complete(job, producer, { ...outcome, unchecked: true })
        }
        // Nobody can check it yet: it waits (its batch with it) until a verifier is there.
        held.add(entry)
    }
  }

  function recheckHeld (): void {
    for (const entry of held) {
      const { job, producer, outcome } = entry
      if (job.settled) {
        held.delete(entry)
        continue
      }
      const sessions = network.sessionsFor(job.model)
      // Redone when nobody will ever check it: its producer is quarantined, or its weights lost
      // their admission while others serve the model (a digest accepted on a tie, outnumbered since).
      if (trust.isQuarantined(producer.id) || (sessions.length > 0 && !network.admits(producer, job.model))) {
        held.delete(entry)
        job.checking = false
        again(job)
        continue
      }
      if (!sessions.some(s => s.id !== producer.id && s.models.get(job.model)?.digest === outcome.modelDigest)) continue
      held.delete(entry)
      void runCheck(entry)
    }
  }

  /** Failures the line may cause itself; two nodes agreeing (or three reports) fail it. */
  function lineFailed (job: Job, session: NodeSession, failure: TaskFailure): void {
    job.lineFailures.push(session.id)
    if (new Set(job.lineFailures).size >= 2 || job.lineFailures.length >= 3) return settleFailed(job, failure)
    again(job)
  }

  /** Queues a job again (front of its queue) unless another attempt or a check has it. */
  function again (job: Job): void {
    if (job.settled || job.checking || job.flights.size > 0) return
    if (job.attempts >= maxAttempts) {
      return settleFailed(job, { code: 'too_many_attempts', message: `The request was attempted ${job.attempts} times without a verified result.`, status: 500 })
    }
    if (job.waiter !== undefined) {
      const waiting = realtime.get(job.model) ?? []
      waiting.unshift(job)
      realtime.set(job.model, waiting)
    } else {
      const queue = batches.get(job.row!.batchId)?.find(q => q.model === job.model)
      if (queue === undefined) {
        live.delete(job.key) // its batch is no longer active
        return
      }
      queue.putBack(job)
    }
    pumpModel(job.model)
  }

  // ---- results -----------------------------------------------------------------------------

  /**
   * Ends a job's work. A batch line stays in `live` until its final state is written: until
   * then the store still shows it pending, and a queue refill must not load it a second time.
   */
  function finish (job: Job): void {
    job.settled = true
    job.checking = false
    if (job.row === undefined) live.delete(job.key)
    for (const flight of job.flights) flight.controller.abort(SUPERSEDED)
    job.abort?.abort(SUPERSEDED)
  }

  function complete (job: Job, producer: NodeSession, outcome: TaskOutcome): void {
    if (trust.isQuarantined(producer.id)) {
      // Caught while this answer was on its way: it is not trusted, and not the line's fault.
      counted('distrusted')
      job.checking = false
      return again(job)
    }
    counted('completed')
    finish(job)
    trust.served(producer.id, outcome.promptTokens + outcome.completionTokens)
    if (job.waiter !== undefined) {
      job.waiter.resolve(outcome)
      return
    }
    const row = job.row!
    track(outcome.peer, row.batchId, (async () => {
      try {
        await store.tasks.markCompleted(row, outcome, job.attempts)
      } finally {
        release(job)
      }
      announce(row)
    })())
  }

  function settleFailed (job: Job, failure: TaskFailure): void {
    finish(job)
    if (job.waiter !== undefined) {
      job.waiter.reject(new DriaError(failure.code, failure.message, { retryable: (failure.status ?? 500) >= 500 }))
      return
    }
    const row = job.row!
    track('', row.batchId, (async () => {
      try {
        await store.tasks.markFailed(row, failure)
      } finally {
        release(job)
      }
      announce(row)
    })())
  }

  /** Forgets a written batch line, once no queue load could still take it for pending. */
  function release (job: Job): void {
    const queue = batches.get(job.row!.batchId)?.find(q => q.model === job.model)
    if (queue === undefined) live.delete(job.key)
    else queue.whenIdle(() => { if (live.get(job.key) === job) live.delete(job.key) })
  }

  function announce (row: TaskRow): void {
    metrics?.tasksSettled.inc({ state: row.state })
    listeners.forEach(listener => { listener(row) })
  }

  /** Recordings in progress, by producer (redo of a caught node) and by batch (deactivate). */
  function track (peer: string, batchId: string, recording: Promise<void>): void {
    const settled = recording.catch(err => { log.error({ err, batchId }, 'result not recorded') })
    for (const key of [`peer:${peer}`, `batch:${batchId}`]) {
      const set = recordings.get(key) ?? new Set()
      recordings.set(key, set.add(settled))
      void settled.finally(() => {
        set.delete(settled)
        if (set.size === 0) recordings.delete(key)
      })
    }
  }

  // ---- backups and targeted work -----------------------------------------------------------

  /** A straggler another node has held too long, to run here too: first verified answer wins. */
  function backupFor (session: NodeSession): Job | undefined {
    const models = new Set(servable(session))
    const now = Date.now()
    let best: Job | undefined
    let oldest = 0
    for (const job of live.values()) {
      if (job.settled || job.checking || job.replies > 0 || job.flights.size !== 1 || !models.has(job.model) || job.attempts >= maxAttempts) continue
      const [flight] = job.flights
      if (flight.session === session) continue
      const age = now - flight.startedAt
      if (age > Math.max(backupAfterMs, BACKUP_FACTOR * deadlines.typicalMs(job.model)) && age > oldest) {
        best = job
        oldest = age
      }
    }
    if (best !== undefined) counted('backup')
    return best
  }

  function sendTargeted (session: NodeSession, entry: Targeted): void {
    if (entry.signal.aborted) {
      entry.reject(entry.signal.reason)
      return
    }
    const endRun = timeTaskRun(metrics, entry.request.model)
    session.run(entry.request, { deadlineMs: entry.deadlineMs, signal: entry.signal })
      .then(reply => {
        endRun(reply)
        entry.resolve(reply)
      }, err => {
        endRun(undefined)
        entry.reject(err)
      })
      .finally(() => { fill(session) })
  }

  /** Verification work for one chosen node: ahead of its queued jobs, within its window. */
  async function runTargeted (session: NodeSession, request: TaskRequest, deadlineMs: number, signal: AbortSignal): Promise<TaskReply> {
    return await new Promise<TaskReply>((resolve, reject) => {
      const entry: Targeted = { request, deadlineMs, signal, resolve, reject }
      if (session.outstanding < Math.max(1, windowOf(session))) {
        sendTargeted(session, entry)
        return
      }
      const queue = targeted.get(session.id) ?? []
      targeted.set(session.id, queue)
      queue.push(entry)
      signal.addEventListener('abort', () => {
        const index = queue.indexOf(entry)
        if (index >= 0) queue.splice(index, 1)
        reject(signal.reason)
      }, { once: true })
    })
  }

  // ---- wiring ------------------------------------------------------------------------------

  network.onChange(() => {
    for (const [id, queue] of targeted) {
      if (network.session(id) !== undefined) continue
      targeted.delete(id)
      for (const entry of queue) entry.reject(new DriaError('SESSION_CLOSED', 'the verifier left', { retryable: true }))
    }
    deadlines.invalidate()
    pumpAll()
  })
  network.onSession(() => { recheckHeld() })
  trust.onQuarantine(peerId => {
    network.disconnect(peerId, new DriaError('NODE_QUARANTINED', 'quarantined'))
    recheckHeld()
  })
  const ticker = setInterval(() => {
    pumpAll()
    recheckHeld()
  }, HELD_RECHECK_MS)
  ticker.unref()

  function abandon (filter: (job: Job) => boolean): void {
    for (const job of [...live.values()]) {
      if (job.settled || !filter(job)) continue
      finish(job)
      live.delete(job.key)
      job.waiter?.reject(new DriaError('REQUEST_ABANDONED', 'the request was abandoned'))
    }
    for (const entry of held) if (entry.job.settled) held.delete(entry)
  }

  return {
    activate (batchId, models, options) {
      if (batches.has(batchId)) return
      const queues = models.map(model => new LineQueue(store.tasks, {
        batchId, model, owner: options.owner, weight: options.weight ?? 1, window, isLive: key => live.has(key)
      }))
      batches.set(batchId, queues)
      for (const queue of queues) {
        const set = byModel.get(queue.model) ?? new Set()
        byModel.set(queue.model, set)
        fair.admit(queue, set)
        set.add(queue)
        network.want(queue.model)
        void refill(queue)
      }
    },
    async deactivate (batchId) {
      const queues = batches.get(batchId) ?? []
      batches.delete(batchId)
      for (const queue of queues) byModel.get(queue.model)?.delete(queue)
      abandon(job => job.row?.batchId === batchId)
      await Promise.all(recordings.get(`batch:${batchId}`) ?? [])
    },
    onSettled (listener) {
      listeners.push(listener)
    },
    async runRealtime (request, signal) {
      if (!network.isModelServed(request.model)) {
        throw new DriaError('no_capacity', `No node serves model '${request.model}' right now.`, { retryable: true })
      }
      const job = createJob({ key: `rt#${newTaskId()}`, owner: request.owner, kind: request.kind, model: request.model, json: request.json })
      const result = new Promise<TaskOutcome>((resolve, reject) => { job.waiter = { resolve, reject } })
      const onAbort = (): void => {
        if (job.settled) return
        finish(job)
        const waiting = realtime.get(job.model)
        if (waiting !== undefined && waiting.includes(job)) waiting.splice(waiting.indexOf(job), 1)
        job.waiter?.reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      const waiting = realtime.get(request.model) ?? []
      realtime.set(request.model, waiting)
      waiting.push(job)
      live.set(job.key, job)
      pumpModel(request.model)
      try {
        return await result
      } finally {
        signal?.removeEventListener('abort', onAbort)
      }
    },
    inFlight: () => flights,
    queued (model) {
      let count = 0
      for (const [name, queues] of byModel) {
        if (model !== undefined && name !== model) continue
        for (const queue of queues) count += queue.size
      }
      for (const [name, jobs] of realtime) if (model === undefined || name === model) count += jobs.length
      return count
    },
    requeue (batchId) {
      for (const queue of batches.get(batchId) ?? []) {
        queue.rewind()
        void refill(queue)
      }
    },
    async settledFrom (peerId) {
      await Promise.all(recordings.get(`peer:${peerId}`) ?? [])
    },
    async stop () {
      stopped = true
      clearInterval(ticker)
      abandon(() => true)
      await Promise.all([...recordings.values()].flatMap(set => [...set]))
    }
  }
}
