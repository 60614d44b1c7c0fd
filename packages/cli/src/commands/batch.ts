import { dirname, resolve } from 'node:path'
import { DriaClient } from '../client/index.js'
import { AUTO_MODEL, EXIT_INTERRUPTED, EXIT_LINES_FAILED, EXIT_OK } from '../constants.js'
import { CliError, describeApiError, usageError } from '../errors.js'
import { runBatchMode, statePathOf } from '../batch/batch-mode.js'
import { readPrompts } from '../batch/input.js'
import { createModelSelector } from '../batch/models.js'
import { createProgress } from '../batch/progress.js'
import type { Progress } from '../batch/progress.js'
import { runRealtime } from '../batch/realtime.js'
import type { RunSummary } from '../batch/realtime.js'
import { openResults } from '../batch/results.js'
import { responseFormatOf } from '../batch/schema.js'

export interface BatchOptions {
  model: string
  output?: string
  concurrency: number
  schema?: string
  schemaFile?: string
  retries: number
  maxTokens: number
  temperature: number
  json: boolean
  batch: boolean
  pollMs: number
}

export interface Connection {
  url: string
  apiKey: string
}

/** Ctrl-C (or SIGTERM) stops the run cleanly; a second one exits at once. */
function interruptible (): { signal: AbortSignal, release: () => void } {
  const controller = new AbortController()
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

function report (progress: Progress, options: BatchOptions, result: { summary: RunSummary, skipped: number, seconds: number, interrupted: boolean, batchMode: boolean }): void {
  const { summary, skipped, seconds, interrupted } = result
  const where = options.output ?? 'stdout'
  if (options.json) {
    process.stderr.write(`${JSON.stringify({ ok: summary.ok, failed: summary.failed, skipped, left: summary.left, seconds: Number(seconds.toFixed(3)), output: options.output ?? null, interrupted })}\n`)
    return
  }
  const counts = `${summary.ok} ok, ${summary.failed} failed${skipped > 0 ? `, ${skipped} already done` : ''}`
  if (!interrupted) {
    const rate = seconds > 0 ? (summary.ok + summary.failed) / seconds : 0
    progress.note(`done: ${counts} in ${seconds.toFixed(1)} s (${rate.toFixed(1)} lines/s) → ${where}`)
    return
  }
  const resume = options.output === undefined
    ? 'use -o <file> to make a run resumable'
    : result.batchMode
      ? `the batch keeps running; run the same command again to collect its results (batch id in ${statePathOf(options.output)})`
      : 'run the same command again to resume'
  progress.note(`interrupted: ${counts}, ${summary.left} left; finished lines are in ${where}; ${resume}`)
}

/** `dria batch`: every line of `input` to the network, real-time (default) or as one batch (`--batch`). */
export async function runBatchCommand (input: string, options: BatchOptions, connection: Connection): Promise<number> {
  if (connection.apiKey === '') throw usageError('NO_API_KEY', 'no API key: set --api-key or DRIA_API_KEY')
  if (options.output !== undefined && resolve(options.output) === resolve(input)) throw usageError('OUTPUT_IS_INPUT', '-o must not be the input file')
  const responseFormat = responseFormatOf(options)
  const lines = await readPrompts(input)
  const { sink, done } = await openResults(options.output)
  const pending = lines.filter(line => !done.has(line.id))
  const progress = createProgress({ enabled: !options.json && process.stderr.isTTY === true })
  const started = performance.now()
  const client = new DriaClient({ baseUrl: connection.url, apiKey: connection.apiKey, maxRetries: options.retries })
  const selector = createModelSelector({ fetchModels: async () => await client.models() }, { model: options.model })
  const { signal, release } = interruptible()
  let summary: RunSummary = { ok: 0, failed: 0, left: pending.length, models: new Map() }
  try {
    if (pending.length > 0) {
      try {
        await selector.refresh()
      } catch (err) {
        throw describeApiError(err, { url: client.baseUrl })
      }
      const common = { maxTokens: options.maxTokens, temperature: options.temperature, responseFormat, baseDir: dirname(resolve(input)), signal }
      const components = { client, selector, sink, progress }
      if (options.batch) {
        summary = await runBatchMode(pending, done, components, { ...common, input, output: options.output, pollMs: options.pollMs })
      } else {
        progress.start(pending.length)
        summary = await runRealtime(pending, components, { ...common, concurrency: options.concurrency, retries: options.retries, fixedModel: options.model !== AUTO_MODEL })
      }
    }
  } catch (err) {
    if (!signal.aborted) {
      progress.stop()
      await sink.close()
      throw err instanceof CliError ? err : describeApiError(err, { url: client.baseUrl })
    }
  } finally {
    release()
  }
  progress.stop()
  await sink.close()
  const interrupted = signal.aborted
  report(progress, options, { summary, skipped: lines.length - pending.length, seconds: (performance.now() - started) / 1000, interrupted, batchMode: options.batch })
  if (interrupted) return EXIT_INTERRUPTED
  return summary.failed > 0 || summary.left > 0 ? EXIT_LINES_FAILED : EXIT_OK
}
