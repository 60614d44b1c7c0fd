import { stat } from 'node:fs/promises'
import { DriaError, ENDPOINT_KINDS, invalidValue, isDriaError, kindOfEndpoint } from '@dria/protocol'
import type { Logger } from '@dria/protocol'
import { COMPLETION_WINDOW, COMPLETION_WINDOW_SECONDS, DEFAULT_SHARED_SYNC_MS } from '../constants.js'
import { LimitError, apiError, notFound } from '../errors.js'
import { retryWhileUnavailable } from '../files/index.js'
import type { FileService } from '../files/index.js'
import { newId } from '../ids.js'
import { WORKER_MIN_BYTES, ingestFile, ingestInWorker } from '../ingest/index.js'
import type { IngestSummary, TaskSpec } from '../ingest/index.js'
import type { NetworkView } from '../network/index.js'
import type { Scheduler } from '../scheduler/index.js'
import type { Trust } from '../trust/index.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { EventBus } from '../events/index.js'
import type { WebhookSender } from '../webhooks/index.js'
import type { BatchError, BatchObject, BatchRecord, BatchStatus, ListOptions, Store, TaskRow } from '../store/index.js'
import { assembleBatch } from './assembler.js'
import { createDeferredIndex } from './deferred-index.js'
import type { DeferredIndex } from './deferred-index.js'

export interface CreateBatchParams {
  input_file_id: string
  endpoint: string
  completion_window: string
  metadata?: Record<string, string> | null
  webhook_url?: string | null
  /** When the output and error files expire (OpenAI's `output_expires_after`). */
  output_expires_after?: { anchor: 'created_at', seconds: number } | null
}

/** The limits of the creator's plan that apply to a batch. */
export interface BatchLimits {
  tasksPerFile: number
  concurrentBatches: number
}

export interface BatchServiceInit {
  /** Overrides the 24 h completion window (tests). */
  completionWindowSeconds?: number
  expiryCheckIntervalMs?: number
  /**
   * On a shared store (several coordinators), how often batches are synced with the others:
   * counts read back, batches another coordinator created or left behind taken up, batches
   * another one finished let go. Default DEFAULT_SHARED_SYNC_MS.
   */
  sharedSyncMs?: number
}

export interface BatchService {
  start(): Promise<void>
  stop(): Promise<void>
  create(owner: string, params: CreateBatchParams, limits: BatchLimits): Promise<BatchRecord>
  get(owner: string, id: string): Promise<BatchRecord>
  list(owner: string, options: ListOptions): Promise<{ data: BatchRecord[], hasMore: boolean }>
  cancel(owner: string, id: string): Promise<BatchRecord>
}

/** Rows a stopped batch fails at once. */
const STOP_PAGE = 512

const FINAL: ReadonlySet<BatchStatus> = new Set(['completed', 'failed', 'expired', 'cancelled'])

/** The OpenAI batch object of a record: internal fields dropped, every field the SDKs expect present. */
export function toBatchObject (record: BatchRecord): BatchObject {
  const {
    owner: _owner, webhookUrl: _webhook, webhookDelivered: _delivered, models: _models, maxLines: _maxLines,
    validated: _validated, outputExpiresAfterSeconds: _expiresAfter, resultFileIds: _resultFileIds, ...object
  } = record
  const { input_tokens, output_tokens, total_tokens } = record.usage
  return {
    ...object,
    model: record.model ?? null,
    usage: { input_tokens, input_tokens_details: { cached_tokens: 0 }, output_tokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens }
  }
}

/** Several models in one batch are named together; OpenAI batches have exactly one. */
function batchModel (models: string[]): string | null {
  return models.length === 0 ? null : models.join(',')
}

const now = (): number => Math.floor(Date.now() / 1000)

/** A promise and the function that resolves it. */
function latch (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

/**
 * Owns the batch lifecycle: validating → in_progress → finalizing → completed, plus failed,
 * expired, cancelling and cancelled. Every step is persisted before it takes effect, and
 * `start()` resumes whatever a crash interrupted.
 */
export function createBatchService (components: { store: Store, files: FileService, scheduler: Scheduler, network: NetworkView, trust: Trust, webhooks: WebhookSender, logger: Logger, metrics: CoordinatorMetrics | null, events?: EventBus | null }, init: BatchServiceInit = {}): BatchService {
  const { store, files, scheduler, network, trust, webhooks, metrics } = components
  const events = components.events ?? null
  const log = components.logger.child({ module: 'batches' })
  const windowSeconds = init.completionWindowSeconds ?? COMPLETION_WINDOW_SECONDS
  /** Live copies of unfinished batches: the single writer of their records. */
  const active = new Map<string, BatchRecord>()
  /**
   * Batches an early stop is under way for. A large batch takes longer to stop than the
   * expiry check's interval, and each extra stop would fail its lines again.
   */
  const stopping = new Set<string>()
  /** Batches whose rows from a quarantined node are being reopened. */
  const reopening = new Set<string>()
  const work = new Set<Promise<unknown>>()
  /** Batches a restart is recounting: they are served once their counts are right again. */
  const recounting = new Map<string, Promise<void>>()
  /** Batches being created, per owner: they count against the plan before they are saved. */
  const creating = new Map<string, number>()
  /** Aborts validations on stop: they start over after the restart instead of delaying it. */
  const shutdown = new AbortController()
  let expiryTimer: NodeJS.Timeout | undefined
  let syncTimer: NodeJS.Timeout | undefined
  /** Shared store: the latest count read applied to each live batch (see refreshCounts). */
  const countsRead = new WeakMap<BatchRecord, number>()
  let countReads = 0

  function track (promise: Promise<unknown>): void {
    const tracked = promise.catch(err => { log.error({ err }, 'batch step failed') }).finally(() => work.delete(tracked))
    work.add(tracked)
  }

  /** A step that needs the blob store waits out an outage (the batch keeps its status meanwhile). */
  async function untilStored<T> (batch: BatchRecord, step: () => Promise<T>): Promise<T> {
    return await retryWhileUnavailable(step, { signal: shutdown.signal, onRetry: err => { log.warn({ batchId: batch.id, err }, 'blob store unavailable: batch step retried') } })
  }

  async function save (batch: BatchRecord): Promise<void> {
    await store.batches.put(batch)
    events?.publish({ type: 'batch.updated', batch })
  }

  async function transition (batch: BatchRecord, status: BatchStatus, stamp: keyof BatchObject | null): Promise<void> {
    batch.status = status
    if (stamp !== null) (batch as unknown as Record<string, number>)[stamp] = now()
    await save(batch)
    log.info({ batchId: batch.id, status }, 'batch status')
    if (FINAL.has(status)) {
      active.delete(batch.id)
      track(notify(batch))
    }
  }

  /** Tells the batch's webhook it ended; remembered once delivered so a restart does not resend. */
  async function notify (batch: BatchRecord): Promise<void> {
    if (batch.webhookUrl === null || batch.webhookDelivered === true) return
    if (!store.shared) return await deliver(batch, batch.webhookUrl)
    // Several coordinators resend undelivered webhooks on start: one does, once.
    await store.exclusive(`webhook:${batch.id}`, async () => {
      if ((await store.batches.get(batch.id))?.webhookDelivered !== true) await deliver(batch, batch.webhookUrl!)
    })
  }

  async function deliver (batch: BatchRecord, url: string): Promise<void> {
    const object = toBatchObject(batch)
    const delivered = await webhooks.send(url, batch.owner, {
      id: `evt_${batch.id}_${batch.status}`,
      object: 'event',
      type: `batch.${batch.status}`,
      created_at: now(),
      data: { id: batch.id, status: batch.status, request_counts: object.request_counts, output_file_id: object.output_file_id, error_file_id: object.error_file_id }
    })
    if (delivered) {
      batch.webhookDelivered = true
      await save(batch)
    }
  }

  function rowOf (batch: BatchRecord, task: TaskSpec, index: number, kind: TaskRow['kind']): TaskRow {
    const row: TaskRow = {
      batchId: batch.id,
      index,
      line: task.line,
      customId: task.customId,
      kind: task.kind ?? kind,
      model: task.model,
      body: task.body,
      format: task.format,
      state: 'pending',
      attempts: 0
    }
    if (task.failure === undefined) return row
    return { ...row, state: 'failed', failure: { ...task.failure, status: 400 } }
  }

  /**
   * Streams the input file into task rows: pending ones, and lines whose body is invalid already
   * failed. Up to two chunk writes are in flight while the next chunk is parsed: LevelDB writes
   * on its own thread, so parsing need not wait. Large files are parsed in a worker thread.
   * The pending rows are noted in `pending`, to be indexed once all rows are written.
   */
  async function split (batch: BatchRecord, pending: DeferredIndex): Promise<IngestSummary> {
    const kind = kindOfEndpoint(batch.endpoint)!
    const { path, release } = await untilStored(batch, async () => await files.localCopy(batch.input_file_id))
    let index = 0
    const writes: Array<Promise<void>> = []
    try {
      const ingest = (await stat(path)).size >= WORKER_MIN_BYTES ? ingestInWorker : ingestFile
      return await ingest(path, {
        endpoint: batch.endpoint,
        defaultModel: batch.metadata?.model,
        maxLines: batch.maxLines,
        servedModels: network.servedModels(),
        scratchDir: files.tempPath(),
        signal: shutdown.signal
      }, async (tasks) => {
        const rows = tasks.map(task => rowOf(batch, task, index++, kind))
        const write = store.tasks.insert(rows, { indexPending: false })
        write.catch(() => {}) // observed below; a failure surfaces at the next await
        for (const row of rows) if (row.state === 'pending') pending.add(row.model, row.index)
        await pending.flush()
        metrics?.ingestedLines.inc(tasks.length)
        writes.push(write)
        if (writes.length >= 2) await writes.shift()
      })
    } finally {
      await Promise.all(writes)
      await release()
    }
  }

  async function fail (batch: BatchRecord, data: BatchError[], total = data.length): Promise<void> {
    await store.tasks.deleteBatch(batch.id)
    batch.errors = { object: 'list', data, total }
    await transition(batch, 'failed', 'failed_at')
  }

  async function validate (batch: BatchRecord): Promise<void> {
    if (!store.shared) return await validateNow(batch)
    // Another coordinator validating it right now does the whole split; this one lets it be.
    const ran = await store.exclusive(`validate:${batch.id}`, async () => {
      // ...and one that has validated it already is not undone by a second split.
      const stored = await store.batches.get(batch.id)
      if (stored === undefined || stored.validated === true || (stored.status !== 'validating' && stored.status !== 'cancelling')) return false
      batch.status = stored.status
      batch.cancelling_at = stored.cancelling_at
      await validateNow(batch)
      return true
    })
    if (ran !== true) active.delete(batch.id)
  }

  async function validateNow (batch: BatchRecord): Promise<void> {
    // A validation a crash interrupted starts over from a clean slate.
    await store.tasks.deleteBatch(batch.id)
    if (await store.files.get(batch.input_file_id) === undefined) {
      return await fail(batch, [{ code: 'invalid_request', message: `Cannot find file ${batch.input_file_id}.`, param: 'input_file_id', line: null }])
    }
    const pending = createDeferredIndex({ tasks: store.tasks }, { batchId: batch.id, path: files.tempPath() })
    let summary: IngestSummary
    try {
      summary = await split(batch, pending)
      // A cancelled batch never queues its rows: they are failed as they are.
      if (summary.errorCount === 0 && batch.status !== 'cancelling') await pending.write()
    } catch (err) {
      // Stopping: the batch stays validating and is split again after the restart.
      if (shutdown.signal.aborted) return
      // The input vanished (deleted meanwhile) or could not be read: the batch cannot run.
      log.warn({ batchId: batch.id, err }, 'input file unreadable')
      return await fail(batch, [{ code: 'invalid_file', message: 'The input file could not be read.', param: 'input_file_id', line: null }])
    } finally {
      await pending.discard()
    }
    // An invalid file fails even if a cancel came meanwhile: only its lines before the first
    // error were split into tasks, so cancelling those would leave the rest in no file.
    if (summary.errorCount > 0) {
      return await fail(batch, summary.errors.map(e => ({ code: e.code, message: e.message, param: e.param, line: e.line })), summary.errorCount)
    }
    if (summary.tasks + summary.failed === 0) {
      return await fail(batch, [{ code: 'empty_file', message: 'The input file has no requests.', param: null, line: null }])
    }
    batch.request_counts = { total: summary.tasks + summary.failed, completed: 0, failed: summary.failed }
    batch.models = summary.models
    batch.model = batchModel(summary.models)
    batch.validated = true
    // Saved before anything else happens to the batch: after a crash it resumes from here.
    await save(batch)
    if (batch.status === 'cancelling') return await stopEarly(batch, 'batch_cancelled')
    await transition(batch, 'in_progress', 'in_progress_at')
    // A cancel during the save above has already started stopping the batch.
    if (batch.status !== 'in_progress') return
    if (summary.tasks === 0) return finalizeIfDone(batch)
    scheduler.activate(batch.id, batch.models, { owner: batch.owner })
  }

  function onSettled (row: TaskRow): void {
    const batch = active.get(row.batchId)
    if (batch === undefined) return
    // Shared store: other coordinators settle rows too, so counts come from the store (sync).
    if (!store.shared) count(batch, row)
    events?.publish({ type: 'batch.updated', batch })
    finalizeIfDone(batch)
  }

  function count (batch: BatchRecord, row: TaskRow): void {
    if (row.state !== 'completed') {
      batch.request_counts.failed++
      return
    }
    batch.request_counts.completed++
    const input = row.outcome?.promptTokens ?? 0
    const output = row.outcome?.completionTokens ?? 0
    batch.usage.input_tokens += input
    batch.usage.output_tokens += output
    batch.usage.total_tokens += input + output
  }

  function finalizeIfDone (batch: BatchRecord): void {
    const { total, completed, failed } = batch.request_counts
    // While a quarantined node's results are being reopened the counts are about to drop.
    if (batch.status === 'in_progress' && completed + failed === total && !reopening.has(batch.id)) track(finalize(batch))
  }

  async function finalize (batch: BatchRecord): Promise<void> {
    await alone(batch, async () => {
      if (store.shared) {
        // Every row settled, per the store (not only the ones this coordinator ran).
        await refreshCounts(batch)
        const { total, completed, failed } = batch.request_counts
        if (completed + failed !== total) return
      }
      await transition(batch, 'finalizing', 'finalizing_at')
      await writeResults(batch)
      await transition(batch, 'completed', 'completed_at')
    })
  }

  /**
   * Runs a step that ends a batch. On a shared store only one coordinator runs such a step of
   * a batch at a time, and none once another has ended it (the stored record is read again
   * first). On LevelDB it just runs.
   */
  async function alone (batch: BatchRecord, step: () => Promise<void>): Promise<void> {
    if (!store.shared) return await step()
    await store.exclusive(`batch:${batch.id}`, async () => {
      const stored = await store.batches.get(batch.id)
      if (stored !== undefined && FINAL.has(stored.status)) return await letGo(batch.id)
      await step()
    })
  }

  /** Another coordinator ended the batch: this one stops serving its live copy. */
  async function letGo (id: string): Promise<void> {
    active.delete(id)
    await scheduler.deactivate(id)
  }

  async function refreshCounts (batch: BatchRecord): Promise<void> {
    // Reads may overlap (sync, finalize): an older read never overwrites a newer one.
    const read = ++countReads
    const counts = await store.tasks.counts(batch.id)
    if (read < (countsRead.get(batch) ?? 0)) return
    countsRead.set(batch, read)
    batch.request_counts = { total: counts.total, completed: counts.completed, failed: counts.failed }
    batch.usage = { ...batch.usage, input_tokens: counts.inputTokens, output_tokens: counts.outputTokens, total_tokens: counts.inputTokens + counts.outputTokens }
  }

  /**
   * Syncs with the other coordinators of a shared store: takes up batches they created (and
   * validations they left unfinished), reads the counts of running ones back from the store
   * and reloads their queues (tasks whose lease expired), and lets go of batches they ended.
   */
  async function sync (): Promise<void> {
    for await (const stored of store.batches.all()) {
      if (shutdown.signal.aborted) return
      const batch = active.get(stored.id)
      if (FINAL.has(stored.status)) {
        if (batch !== undefined && !FINAL.has(batch.status)) await letGo(stored.id)
        continue
      }
      if (batch === undefined) {
        if (stored.status === 'in_progress') {
          await refreshCounts(stored)
          active.set(stored.id, stored)
          scheduler.activate(stored.id, stored.models, { owner: stored.owner })
          finalizeIfDone(stored)
        } else if (stored.status === 'validating' || stored.status === 'cancelling') {
          // Left unfinished by a coordinator that died (else the lock skips it): finished here.
          active.set(stored.id, stored)
          track(stored.validated === true ? stopEarly(stored, 'batch_cancelled') : validate(stored))
        }
        continue
      }
      if (batch.validated === true && (batch.status === 'cancelling' || stored.status === 'cancelling')) {
        // Cancelled here or through another coordinator: whichever holds the batch's lock
        // stops it (again each sync while the one that started died before it finished).
        batch.status = 'cancelling'
        batch.cancelling_at = stored.cancelling_at ?? batch.cancelling_at
        track(stopEarly(batch, 'batch_cancelled'))
        continue
      }
      if (batch.status !== 'in_progress') continue
      await refreshCounts(batch)
      scheduler.requeue(batch.id)
      finalizeIfDone(batch)
    }
  }

  async function writeResults (batch: BatchRecord): Promise<void> {
    // The ids are fixed before the files exist, so writing them again after a crash replaces
    // the files of the interrupted attempt instead of leaving them behind.
    if (batch.resultFileIds === undefined) {
      batch.resultFileIds = { output: newId('file-'), error: newId('file-') }
      await save(batch)
    }
    const { outputPath, errorPath, outputLines, errorLines } = await assembleBatch({ store, files }, batch)
    const expiresAt = batch.outputExpiresAfterSeconds == null ? null : now() + batch.outputExpiresAfterSeconds
    const adopt = async (path: string, id: string, kind: string): Promise<string> =>
      (await untilStored(batch, async () => await files.adopt(batch.owner, path, { filename: `${batch.id}_${kind}.jsonl`, purpose: 'batch_output', id, expiresAt }))).id
    // OpenAI always gives a completed batch an output file, and an error file only when needed.
    const keepOutput = outputLines > 0 || errorLines === 0
    batch.output_file_id = keepOutput ? await adopt(outputPath, batch.resultFileIds.output, 'output') : null
    batch.error_file_id = errorLines > 0 ? await adopt(errorPath, batch.resultFileIds.error, 'error') : null
    if (!keepOutput) await files.discard(outputPath)
    if (errorLines === 0) await files.discard(errorPath)
  }

  /** Ends a batch early: unfinished lines fail with `code`, finished work is kept. */
  async function stopEarly (batch: BatchRecord, code: 'batch_cancelled' | 'batch_expired'): Promise<void> {
    if (stopping.has(batch.id)) return
    stopping.add(batch.id)
    try {
      await alone(batch, async () => {
        await scheduler.deactivate(batch.id)
        const message = code === 'batch_cancelled' ? 'This request was cancelled before it ran.' : 'This request could not be executed before the completion window expired.'
        const failOne = async (row: TaskRow): Promise<void> => {
          try {
            await store.tasks.markFailed(row, { code, message })
          } catch (err) {
            // Settled by another coordinator meanwhile (shared store): its result stands.
            if (isDriaError(err, 'TASK_WRONG_STATE')) return
            throw err
          }
          batch.request_counts.failed++
          metrics?.tasksSettled.inc({ state: code === 'batch_cancelled' ? 'cancelled' : 'expired' })
        }
        // A page of rows at a time: the store commits the transitions of one tick together.
        const open: TaskRow[] = []
        for await (const row of store.tasks.rows(batch.id)) {
          if (row.state === 'pending' || row.state === 'assigned') open.push(row)
          if (open.length === STOP_PAGE) await Promise.all(open.splice(0).map(failOne))
        }
        await Promise.all(open.map(failOne))
        if (store.shared) await refreshCounts(batch)
        await writeResults(batch)
        if (code === 'batch_cancelled') await transition(batch, 'cancelled', 'cancelled_at')
        else await transition(batch, 'expired', 'expired_at')
      })
    } finally {
      stopping.delete(batch.id)
    }
  }

  async function recount (batch: BatchRecord): Promise<void> {
    const counts = { total: 0, completed: 0, failed: 0 }
    const usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0 }
    for await (const row of store.tasks.rows(batch.id)) {
      counts.total++
      if (row.state === 'completed') {
        counts.completed++
        usage.input_tokens += row.outcome?.promptTokens ?? 0
        usage.output_tokens += row.outcome?.completionTokens ?? 0
      }
      if (row.state === 'failed') counts.failed++
      // Work in flight when the coordinator died is handed out again.
      if (row.state === 'assigned') await store.tasks.markPending(row)
    }
    usage.total_tokens = usage.input_tokens + usage.output_tokens
    batch.request_counts = counts
    batch.usage = usage
  }

  /**
   * Picks up a batch a restart found unfinished. `recounted` is called once its counts are
   * right again (until then it is not served, so counts never go backwards). `turn` settles
   * when the batch resumed before this one has gone back to the scheduler (or will not), and
   * `activated` when this one has: batches resume in creation order.
   */
  async function resume (batch: BatchRecord, hooks: { recounted: () => void, turn: Promise<void>, activated: () => void }): Promise<void> {
    const { recounted, turn, activated } = hooks
    active.set(batch.id, batch)
    try {
      switch (batch.status) {
        case 'validating':
          recounted()
          return await validate(batch)
        case 'in_progress':
          // Shared: another coordinator may be running (or ending) it, and owns the record.
          if (store.shared) {
            await refreshCounts(batch)
          } else {
            await recount(batch)
            await save(batch)
          }
          recounted()
          if (batch.request_counts.completed + batch.request_counts.failed === batch.request_counts.total) {
            activated()
            return await finalize(batch)
          }
          await turn
          scheduler.activate(batch.id, batch.models, { owner: batch.owner })
          return
        case 'finalizing':
          await recount(batch)
          recounted()
          return await alone(batch, async () => {
            await writeResults(batch)
            await transition(batch, 'completed', 'completed_at')
          })
        case 'cancelling':
          // Cancelled while validating: the split is finished first, or the lines it had
          // not reached yet would be in neither file.
          if (batch.validated !== true && batch.in_progress_at === null) {
            recounted()
            return await validate(batch)
          }
          await recount(batch)
          recounted()
          return await stopEarly(batch, 'batch_cancelled')
        default:
          active.delete(batch.id)
      }
    } finally {
      recounted()
      activated()
    }
  }

  function checkExpiry (): void {
    const t = now()
    for (const batch of active.values()) {
      if (batch.status === 'in_progress' && t >= batch.expires_at) {
        track(stopEarly(batch, 'batch_expired'))
      }
    }
  }

  async function owned (owner: string, id: string): Promise<BatchRecord> {
    await recounting.get(id)
    const stored = active.get(id) ?? await store.batches.get(id)
    if (stored === undefined || stored.owner !== owner) throw notFound('batch', id)
    return stored
  }

  /**
   * Every result a quarantined node produced in a batch still running is executed again
   * elsewhere (finished batches keep their files).
   */
  async function redoResultsOf (peerId: string): Promise<void> {
    // Results it had already got past the quarantine check finish recording (and counting) first.
    await scheduler.settledFrom(peerId)
    for (const batch of active.values()) {
      if (batch.status !== 'in_progress') continue
      reopening.add(batch.id)
      let reopened = 0
      try {
        reopened = await reopenRows(batch, peerId)
      } finally {
        reopening.delete(batch.id)
      }
      finalizeIfDone(batch)
      if (reopened > 0) {
        log.warn({ batchId: batch.id, peer: peerId, reopened }, 'results of a quarantined node reopened')
        scheduler.requeue(batch.id)
      }
    }
  }

  async function reopenRows (batch: BatchRecord, peerId: string): Promise<number> {
    let reopened = 0
    for await (const row of store.tasks.rows(batch.id)) {
      if (row.state !== 'completed' || row.outcome?.peer !== peerId) continue
      const { promptTokens, completionTokens } = row.outcome
      await store.tasks.markRedo(row)
      batch.request_counts.completed--
      batch.usage.input_tokens -= promptTokens
      batch.usage.output_tokens -= completionTokens
      batch.usage.total_tokens -= promptTokens + completionTokens
      reopened++
    }
    return reopened
  }

  scheduler.onSettled(onSettled)
  trust.onQuarantine(peerId => { track(redoResultsOf(peerId)) })

  return {
    async start () {
      let turn = Promise.resolve()
      // Ids sort by creation time: the oldest batch is resumed (and activated) first.
      for await (const batch of store.batches.all()) {
        if (FINAL.has(batch.status)) {
          track(notify(batch))
          continue
        }
        const recounted = latch()
        recounting.set(batch.id, recounted.promise)
        void recounted.promise.then(() => recounting.delete(batch.id))
        const activated = latch()
        track(resume(batch, { recounted: recounted.resolve, turn, activated: activated.resolve }))
        turn = activated.promise
      }
      expiryTimer = setInterval(checkExpiry, init.expiryCheckIntervalMs ?? 1_000)
      expiryTimer.unref()
      if (store.shared) {
        let syncing = false
        syncTimer = setInterval(() => {
          if (syncing) return
          syncing = true
          track(sync().finally(() => { syncing = false }))
        }, init.sharedSyncMs ?? DEFAULT_SHARED_SYNC_MS)
        syncTimer.unref()
      }
    },
    async stop () {
      clearInterval(expiryTimer)
      clearInterval(syncTimer)
      shutdown.abort()
      webhooks.stop()
      await scheduler.stop()
      await Promise.all(work)
    },
    async create (owner, params, limits) {
      if (kindOfEndpoint(params.endpoint) === undefined) throw invalidValue('endpoint', params.endpoint, Object.keys(ENDPOINT_KINDS))
      if (params.completion_window !== COMPLETION_WINDOW) throw invalidValue('completion_window', params.completion_window, [COMPLETION_WINDOW])
      // Counted and reserved in one synchronous step: simultaneous creates cannot all pass.
      let open = creating.get(owner) ?? 0
      for (const batch of active.values()) if (batch.owner === owner) open++
      if (open >= limits.concurrentBatches) {
        throw new LimitError('too_many_batches', `Your plan allows ${limits.concurrentBatches} unfinished batches at once.`, 60)
      }
      creating.set(owner, (creating.get(owner) ?? 0) + 1)
      try {
        if (params.webhook_url != null) await webhooks.check(params.webhook_url)
        // An unknown (or someone else's) file makes a batch that fails validation, as at OpenAI.
        const input = await store.files.get(params.input_file_id)
        if (input !== undefined && input.owner === owner && input.purpose !== 'batch') {
          throw apiError('invalid_file', `File '${input.id}' has purpose '${input.purpose}', expected 'batch'.`, 'input_file_id')
        }
        const created = now()
        const batch: BatchRecord = {
          id: newId('batch_'),
          object: 'batch',
          endpoint: params.endpoint,
          errors: null,
          input_file_id: params.input_file_id,
          completion_window: params.completion_window,
          status: 'validating',
          output_file_id: null,
          error_file_id: null,
          created_at: created,
          in_progress_at: null,
          expires_at: created + windowSeconds,
          finalizing_at: null,
          completed_at: null,
          failed_at: null,
          expired_at: null,
          cancelling_at: null,
          cancelled_at: null,
          request_counts: { total: 0, completed: 0, failed: 0 },
          metadata: params.metadata ?? null,
          usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
          model: null,
          owner,
          webhookUrl: params.webhook_url ?? null,
          models: [],
          maxLines: limits.tasksPerFile,
          outputExpiresAfterSeconds: params.output_expires_after?.seconds ?? null
        }
        if (input === undefined || input.owner !== owner) {
          // Saved as validating first, so the record is complete before it fails.
          await save(batch)
          await fail(batch, [{ code: 'invalid_request', message: `Cannot find file ${params.input_file_id}.`, param: 'input_file_id', line: null }])
          return batch
        }
        await save(batch)
        active.set(batch.id, batch)
        track(validate(batch))
        return batch
      } finally {
        const left = (creating.get(owner) ?? 1) - 1
        if (left === 0) creating.delete(owner)
        else creating.set(owner, left)
      }
    },
    get: owned,
    async list (owner, options) {
      const page = await store.batches.list(owner, options)
      await Promise.all(page.data.map(async batch => await recounting.get(batch.id)))
      // Stored records of running batches lag behind their counts and usage.
      return { ...page, data: page.data.map(batch => active.get(batch.id) ?? batch) }
    },
    async cancel (owner, id) {
      const batch = await owned(owner, id)
      if (batch.status === 'cancelling' || batch.status === 'cancelled') return batch
      if (FINAL.has(batch.status) || batch.status === 'finalizing') {
        throw new DriaError('batch_wrong_status', `Cannot cancel a batch with status '${batch.status}'.`)
      }
      if (stopping.has(batch.id)) throw new DriaError('batch_wrong_status', 'Cannot cancel a batch that is expiring.')
      const validating = batch.status === 'validating'
      await transition(batch, 'cancelling', 'cancelling_at')
      // A batch still validating is stopped by its validation step once ingest returns.
      if (!validating) track(stopEarly(batch, 'batch_cancelled'))
      return batch
    }
  }
}
