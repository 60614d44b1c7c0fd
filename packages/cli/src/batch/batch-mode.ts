import { createReadStream } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'
import type { Batch } from 'openai/resources/batches'
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions'
import { FINAL_STATUSES } from '../client/index.js'
import { RECONNECT_POLL_MS, RECONNECT_WINDOW_MS } from '../constants.js'
import { CliError, describeApiError, isConnectionError, unreachable, usageError } from '../errors.js'
import { EXIT_LINES_FAILED } from '../constants.js'
import { AttachmentError, loadAttachment } from './attachments.js'
import type { PromptLine } from './input.js'
import type { RunComponents, RunSummary } from './realtime.js'
import { MEDIA_WORDS, chatRequest, outputOf } from './request.js'
import type { RequestOptions } from './request.js'
import type { FailureLine, ResultLine } from './results.js'
import { backoffMs } from './retry.js'

export interface BatchModeInit extends RequestOptions {
  /** The input file (its absolute path is remembered with the batch id). */
  input: string
  /** The results file; the batch id is kept beside it in `<output>.batch.json`. Undefined: stdout, nothing kept. */
  output?: string
  baseDir: string
  pollMs: number
  signal: AbortSignal
}

/** What `<output>.batch.json` remembers so a re-run attaches instead of submitting again. */
interface BatchState {
  batch_id: string
  input: string
  created_at: number
}

export function statePathOf (output: string): string {
  return `${output}.batch.json`
}

async function readState (path: string | undefined): Promise<BatchState | undefined> {
  if (path === undefined) return undefined
  try {
    return JSON.parse(await readFile(path, 'utf8')) as BatchState
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw usageError('BATCH_STATE_UNREADABLE', `cannot read ${path}: ${(err as Error).message}; delete it to submit a new batch`)
  }
}

async function writeState (path: string, state: BatchState): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(state))
  await rename(`${path}.tmp`, path)
}

/** Each line as a batch request, or its error when it cannot be sent (attachment, no suitable model). */
async function prepare (lines: PromptLine[], components: RunComponents, init: BatchModeInit): Promise<{ requests: Map<string, ChatCompletionCreateParamsNonStreaming>, failures: FailureLine[] }> {
  const requests = new Map<string, ChatCompletionCreateParamsNonStreaming>()
  const failures: FailureLine[] = []
  const none = new Set<string>()
  for (const line of lines) {
    let attachment
    try {
      attachment = line.attachment === undefined ? undefined : await loadAttachment(line.attachment, init.baseDir, init.signal)
    } catch (err) {
      if (!(err instanceof AttachmentError)) throw err
      failures.push({ id: line.id, model: null, error: err.message })
      continue
    }
    const media = attachment?.media
    const model = components.selector.pick(media, none)
    if (typeof model !== 'string') {
      failures.push(model.reason === 'unsupported'
        ? { id: line.id, model: model.model, error: `400: model ${model.model} does not read ${MEDIA_WORDS[media!]}` }
        : { id: line.id, model: null, error: media === undefined ? '503: no nodes available' : `503: no nodes available that read ${MEDIA_WORDS[media]}` })
      continue
    }
    requests.set(line.id, chatRequest(model, line, attachment, init))
  }
  return { requests, failures }
}

async function submit (requests: Map<string, ChatCompletionCreateParamsNonStreaming>, components: RunComponents): Promise<Batch> {
  const { client } = components
  const path = join(tmpdir(), `dria-batch-${randomBytes(6).toString('hex')}.jsonl`)
  const body = [...requests].map(([id, request]) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: request })).join('\n')
  await writeFile(path, `${body}\n`)
  try {
    const file = await client.openai.files.create({ file: createReadStream(path), purpose: 'batch' })
    return await client.openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { client: 'dria-cli' } })
  } finally {
    await rm(path, { force: true })
  }
}

/** Polls the batch until it ends; a coordinator that goes away (a restart) is waited for. */
async function waitFor (id: string, components: RunComponents, init: BatchModeInit, onPoll: (batch: Batch) => void): Promise<Batch> {
  const { client } = components
  let unreachableSince: number | undefined
  let waits = 0
  for (;;) {
    let batch: Batch
    try {
      batch = await client.openai.batches.retrieve(id, { signal: init.signal, maxRetries: 0 })
    } catch (err) {
      if (init.signal.aborted) throw err
      if (!isConnectionError(err)) throw describeApiError(err, { url: client.baseUrl })
      unreachableSince ??= Date.now()
      if (Date.now() - unreachableSince > RECONNECT_WINDOW_MS) throw unreachable(client.baseUrl, err)
      await sleep(Math.min(RECONNECT_POLL_MS, backoffMs(++waits)), undefined, { signal: init.signal })
      continue
    }
    unreachableSince = undefined
    waits = 0
    onPoll(batch)
    if (FINAL_STATUSES.has(batch.status)) return batch
    await sleep(init.pollMs, undefined, { signal: init.signal })
  }
}

async function jsonLines (components: RunComponents, fileId: string | null | undefined): Promise<Array<Record<string, any>>> {
  if (fileId === null || fileId === undefined) return []
  const text = await components.client.fileText(fileId)
  return text.split('\n').filter(line => line.trim() !== '').map(line => JSON.parse(line) as Record<string, any>)
}

/** A line of the batch's output or error file as a result line. */
function resultOf (line: Record<string, any>, models: Map<string, string>, structured: boolean): ResultLine {
  const id = String(line.custom_id)
  const response = line.response as { status_code: number, body: Record<string, any> } | null
  if (response !== null && response.status_code === 200) {
    const body = response.body as ChatCompletion
    const output = outputOf(body, structured)
    if ('error' in output) return { id, model: body.model, error: output.error }
    return { id, model: body.model, output: output.output, tokens: body.usage?.completion_tokens ?? 0 }
  }
  const model = models.get(id) ?? null
  if (response !== null) return { id, model, error: `${response.status_code}: ${String(response.body?.error?.message ?? 'failed')}` }
  return { id, model, error: `${String(line.error?.code ?? 'failed')}: ${String(line.error?.message ?? '')}` }
}

/**
 * `--batch`: the lines go through the Batches API as one batch (the coordinator schedules and
 * retries them), and its results come back as result lines. The batch id is kept beside the
 * output, so an interrupted run, re-run, attaches to the same batch instead of submitting again.
 */
export async function runBatchMode (lines: PromptLine[], done: ReadonlySet<string>, components: RunComponents, init: BatchModeInit): Promise<RunSummary> {
  const { client, sink, progress } = components
  const structured = init.responseFormat !== undefined
  const summary: RunSummary = { ok: 0, failed: 0, left: lines.length, models: new Map() }
  const record = (line: ResultLine): void => {
    if (done.has(line.id)) return
    sink.write(line)
    summary.left--
    if ('error' in line) summary.failed++
    else summary.ok++
    if (line.model !== null) summary.models.set(line.model, (summary.models.get(line.model) ?? 0) + 1)
  }
  const statePath = init.output === undefined ? undefined : statePathOf(init.output)
  const input = resolve(init.input)
  const state = await readState(statePath)
  if (state !== undefined && state.input !== input) {
    throw usageError('BATCH_STATE_MISMATCH', `${statePath} belongs to batch ${state.batch_id} of ${state.input}; delete it or choose another -o`)
  }

  let batch: Batch
  let local = 0
  try {
    if (state === undefined) {
      const { requests, failures } = await prepare(lines, components, init)
      failures.forEach(record)
      local = failures.length
      if (requests.size === 0) return summary
      batch = await submit(requests, components)
      if (statePath !== undefined) await writeState(statePath, { batch_id: batch.id, input, created_at: batch.created_at })
      progress.note(`batch ${batch.id} submitted with ${requests.size} lines${statePath === undefined ? '' : `; if interrupted, run the same command again to attach to it`}`)
    } else {
      batch = await client.openai.batches.retrieve(state.batch_id)
      progress.note(`attaching to batch ${batch.id} (${batch.status})`)
    }
  } catch (err) {
    if (init.signal.aborted || err instanceof CliError) throw err
    throw describeApiError(err, { url: client.baseUrl })
  }

  progress.start(lines.length)
  const finished = await waitFor(batch.id, components, init, b => {
    const counts = b.request_counts ?? { completed: 0, failed: 0, total: 0 }
    progress.update({ done: local + counts.completed + counts.failed, failed: summary.failed + counts.failed, models: summary.models })
  })
  progress.stop()
  if (finished.status === 'failed') {
    if (statePath !== undefined) await rm(statePath, { force: true })
    const first = finished.errors?.data?.[0]
    throw new CliError('BATCH_FAILED', `batch ${finished.id} failed validation${first === undefined ? '' : `: line ${first.line ?? '-'}: ${first.code ?? ''}: ${first.message ?? ''}`}`, EXIT_LINES_FAILED)
  }

  try {
    const submitted = await jsonLines(components, finished.input_file_id)
    const models = new Map(submitted.map(line => [String(line.custom_id), String(line.body?.model ?? '')]))
    for (const line of await jsonLines(components, finished.output_file_id)) record(resultOf(line, models, structured))
    for (const line of await jsonLines(components, finished.error_file_id)) record(resultOf(line, models, structured))
    if (state !== undefined) {
      // Lines the attached batch did not carry (they could not be sent then): their errors now, the rest next run.
      const { failures } = await prepare(lines.filter(line => !models.has(line.id)), components, init)
      failures.forEach(record)
    }
  } catch (err) {
    throw describeApiError(err, { url: client.baseUrl })
  }
  if (statePath !== undefined) await rm(statePath, { force: true })
  return summary
}
