import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { MediaCapability } from '@dria/protocol'
import OpenAI from 'openai'
import type { DriaClient } from '../client/index.js'
import { RECONNECT_POLL_MS, RECONNECT_WINDOW_MS, REQUEST_TIMEOUT_MS } from '../constants.js'
import { apiMessage, describeApiError, isConnectionError, networkCode } from '../errors.js'
import { AttachmentError, loadAttachment } from './attachments.js'
import type { Attachment } from './attachments.js'
import type { PromptLine } from './input.js'
import type { ModelSelector } from './models.js'
import type { Progress } from './progress.js'
import { MEDIA_WORDS, chatRequest, outputOf } from './request.js'
import type { RequestOptions } from './request.js'
import type { ResultLine, ResultSink } from './results.js'
import { backoffMs, retryAfterOf } from './retry.js'

export interface RunComponents {
  client: DriaClient
  selector: ModelSelector
  sink: ResultSink
  progress: Progress
}

export interface RealtimeInit extends RequestOptions {
  /** Requests at once. */
  concurrency: number
  /** Retries of a line after a transient failure. */
  retries: number
  /** Whether a model was named (`-m`): no fallback to others. */
  fixedModel: boolean
  /** Attachments' paths are relative to this directory (the input file's). */
  baseDir: string
  /** Stops the run: requests in flight are abandoned, finished lines are kept. */
  signal: AbortSignal
}

export interface RunSummary {
  ok: number
  failed: number
  /** Lines not finished because the run was interrupted. */
  left: number
  models: Map<string, number>
}

function noNodes (media: MediaCapability | undefined): string {
  return media === undefined ? '503: no nodes available' : `503: no nodes available that read ${MEDIA_WORDS[media]}`
}

function retryable (status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 409 || status === 429 || status >= 500
}

/**
 * Runs every line as a real-time request, `concurrency` at once. A line that gets 503 (no
 * node for its model) moves on to the next suitable model at once; other transient failures
 * are retried with backoff up to `retries` times; while the coordinator cannot be reached
 * (a restart) lines wait for it without using up retries. Each line ends as one result line.
 */
export async function runRealtime (lines: PromptLine[], components: RunComponents, init: RealtimeInit): Promise<RunSummary> {
  const { client, selector, sink, progress } = components
  const { signal } = init
  const summary: RunSummary = { ok: 0, failed: 0, left: lines.length, models: new Map() }
  const structured = init.responseFormat !== undefined
  // A fatal error (a refused key) stops every worker, not only the one that saw it.
  const stop = new AbortController()
  const stopped = AbortSignal.any([signal, stop.signal])
  // Every request in flight listens to it.
  setMaxListeners(0, stopped)
  let fatal: unknown

  async function send (model: string, line: PromptLine, attachment: Attachment | undefined): Promise<ResultLine> {
    const completion = await client.openai.chat.completions.create(chatRequest(model, line, attachment, init), { signal: stopped, maxRetries: 0, timeout: REQUEST_TIMEOUT_MS })
    const output = outputOf(completion, structured)
    if ('error' in output) return { id: line.id, model, error: output.error }
    return { id: line.id, model, output: output.output, tokens: completion.usage?.completion_tokens ?? 0 }
  }

  async function runLine (line: PromptLine): Promise<ResultLine> {
    let attachment: Attachment | undefined
    if (line.attachment !== undefined) {
      try {
        attachment = await loadAttachment(line.attachment, init.baseDir, stopped)
      } catch (err) {
        if (err instanceof AttachmentError) return { id: line.id, model: null, error: err.message }
        throw err
      }
    }
    const media = attachment?.media
    const tried = new Set<string>()
    let retries = 0
    let lastModel: string | null = null
    let lastError = noNodes(media)
    let unreachableSince: number | undefined
    let waits = 0

    /** Waits before the next retry; false once retries are used up. */
    const retry = async (retryAfter?: number): Promise<boolean> => {
      if (retries >= init.retries) return false
      retries++
      await sleep(backoffMs(retries, retryAfter), undefined, { signal: stopped })
      return true
    }

    for (;;) {
      const model = selector.pick(media, tried)
      if (typeof model !== 'string') {
        if (model.reason === 'unsupported') return { id: line.id, model: model.model, error: `400: model ${model.model} does not read ${MEDIA_WORDS[media!]}` }
        // Every suitable model was tried (or none is served): wait, look again, start over.
        if (!await retry()) return { id: line.id, model: lastModel, error: lastError }
        tried.clear()
        await selector.refresh().catch(() => {})
        continue
      }
      lastModel = model
      try {
        return await send(model, line, attachment)
      } catch (err) {
        if (stopped.aborted) throw err
        if (isConnectionError(err)) {
          unreachableSince ??= Date.now()
          if (Date.now() - unreachableSince > RECONNECT_WINDOW_MS) return { id: line.id, model, error: `cannot reach coordinator at ${client.baseUrl}: ${networkCode(err)}` }
          await sleep(Math.min(RECONNECT_POLL_MS, backoffMs(++waits)), undefined, { signal: stopped })
          continue
        }
        if (unreachableSince !== undefined) {
          // Back after an outage (a restart): its nodes are rejoining, the line starts its retries afresh.
          unreachableSince = undefined
          waits = 0
          retries = 0
        }
        if (!(err instanceof OpenAI.APIError)) throw err
        if (err.status === 401) throw describeApiError(err, { url: client.baseUrl })
        if (err.status === 503 && err.code === 'no_capacity') {
          lastError = noNodes(media)
          selector.unavailable(model)
          tried.add(model)
          // With models to fall back to, the next one is tried at once.
          if (!init.fixedModel) continue
        } else {
          lastError = `${err.status ?? 'error'}: ${apiMessage(err)}`
          if (!retryable(err.status)) return { id: line.id, model, error: lastError }
        }
        if (!await retry(retryAfterOf(err.headers))) return { id: line.id, model, error: lastError }
      }
    }
  }

  let next = 0
  async function worker (): Promise<void> {
    while (next < lines.length && !stopped.aborted) {
      const line = lines[next++]
      let result: ResultLine
      try {
        result = await runLine(line)
        sink.write(result)
      } catch (err) {
        if (stopped.aborted) return
        fatal ??= err
        stop.abort()
        return
      }
      summary.left--
      if ('error' in result) summary.failed++
      else summary.ok++
      if (result.model !== null) summary.models.set(result.model, (summary.models.get(result.model) ?? 0) + 1)
      progress.update({ done: summary.ok + summary.failed, failed: summary.failed, models: summary.models })
    }
  }

  await Promise.all(Array.from({ length: Math.min(init.concurrency, lines.length) }, worker))
  if (fatal !== undefined) throw fatal
  return summary
}
