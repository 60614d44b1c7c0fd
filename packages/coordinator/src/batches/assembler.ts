import { createWriteStream } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { once } from 'node:events'
import type { FinishReason, InferenceResult, TaskKindName, TokenLogprob } from '@dria/protocol'
import type { FileService } from '../files/index.js'
import { errorLine, outputLine } from '../output/index.js'
import type { ErrorOutput } from '../output/index.js'
import type { BatchRecord, Store, TaskOutcome, TaskRow } from '../store/index.js'

const FLUSH_BYTES = 256 * 1024

/** Collects lines and writes them in large chunks, waiting when the disk is behind. */
class LineWriter {
  readonly #stream: WriteStream
  #buffer: string[] = []
  #size = 0
  lines = 0

  constructor (path: string) {
    this.#stream = createWriteStream(path)
  }

  async write (line: string): Promise<void> {
    this.#buffer.push(line, '\n')
    this.#size += line.length + 1
    this.lines++
    if (this.#size >= FLUSH_BYTES) await this.#flush()
  }

  async #flush (): Promise<void> {
    if (this.#buffer.length === 0) return
    const chunk = this.#buffer.join('')
    this.#buffer = []
    this.#size = 0
    if (!this.#stream.write(chunk)) await once(this.#stream, 'drain')
  }

  async close (): Promise<void> {
    await this.#flush()
    this.#stream.end()
    await once(this.#stream, 'finish')
  }
}

interface NodeOutput { text?: string, finish_reason?: FinishReason, embeddings?: number[][], logprobs?: TokenLogprob[] }

/** A verified outcome (the node's output JSON and usage) as the result the output lines are built from. */
export function inferenceResultOf (kind: TaskKindName, outcome: TaskOutcome): InferenceResult {
  const output = JSON.parse(outcome.output) as NodeOutput
  const usage = { promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens }
  if (kind === 'embedding') return { kind: 'embedding', result: { embeddings: output.embeddings ?? [], usage } }
  const result = { text: output.text ?? '', finishReason: output.finish_reason ?? 'stop', usage }
  return { kind, result: Array.isArray(output.logprobs) ? { ...result, logprobs: output.logprobs } : result }
}
/** What of the request shapes its answer: base64 embeddings, and where a completion's text starts. */
function shapeOf (row: TaskRow, result: InferenceResult): { base64?: boolean, promptLength?: number } {
  // Most rows ask for neither: the body is only parsed when it may matter.
  if (row.kind === 'embedding' && row.body.includes('base64')) {
    return { base64: (JSON.parse(row.body) as { encoding_format?: string }).encoding_format === 'base64' }
  }
  if (row.kind === 'completion' && result.kind === 'completion' && result.result.logprobs !== undefined) {
    const prompt = (JSON.parse(row.body) as { prompt: string | string[] }).prompt
    return { promptLength: (Array.isArray(prompt) ? prompt[0] : prompt).length }
  }
  return {}
}

function failureOf (row: TaskRow, context: { customId: string, requestId: string, model: string }): ErrorOutput {
  const failure = row.failure ?? { code: 'internal_error', message: 'The request has no result.' }
  // Engines use upper-case codes; OpenAI's are lower case.
  const code = failure.code.toLowerCase()
  if (failure.status !== undefined) {
    return { ...context, level: 'request', statusCode: failure.status, code, message: failure.message, param: failure.param ?? null }
  }
  return { ...context, level: 'batch', code, message: failure.message }
}

/**
 * Streams a batch's task rows, in input order, into an output file (successes) and an error
 * file (failures). Lines derive only from stored rows, so assembling again after a crash
 * writes identical files.
 */
export async function assembleBatch (components: { store: Store, files: FileService }, batch: BatchRecord): Promise<{ outputPath: string, errorPath: string, outputLines: number, errorLines: number }> {
  const outputPath = components.files.tempPath()
  const errorPath = components.files.tempPath()
  const output = new LineWriter(outputPath)
  const errors = new LineWriter(errorPath)
  const idPrefix = batch.id.slice(batch.id.indexOf('_') + 1)
  try {
    for await (const row of components.store.tasks.rows(batch.id)) {
      const context = { customId: row.customId, requestId: `${idPrefix}-${row.index}`, model: row.model }
      if (row.state === 'completed' && row.outcome !== undefined) {
        const result = inferenceResultOf(row.kind, row.outcome)
        await output.write(outputLine(row.format, {
          ...context,
          ...result,
          ...shapeOf(row, result),
          created: Math.floor(row.outcome.finishedAt / 1000),
          modelDigest: row.outcome.modelDigest
        }))
      } else {
        await errors.write(errorLine(row.format, failureOf(row, context)))
      }
    }
  } finally {
    await Promise.all([output.close(), errors.close()])
  }
  return { outputPath, errorPath, outputLines: output.lines, errorLines: errors.lines }
}
