import { DriaError, verifyTaskResult } from '@dria/protocol'
import type { ResponseFormat, TaskKindName, TaskResult } from '@dria/protocol'
import type { PeerId } from '@libp2p/interface'
import type { TaskOutcome } from '../store/index.js'
import { checkStructuredOutput } from './schema-check.js'

export interface ResultExpectations {
  peerId: PeerId
  taskId: string
  attempt: number
  kind: TaskKindName
  /** The digest the peer advertised for the model. */
  modelDigest: string
  /** `max_tokens` of the request, when it set one. */
  maxTokens?: number
  /** Structured output the request asked for. */
  responseFormat?: ResponseFormat
}

const FINISH_REASONS = new Set(['stop', 'length'])

function malformed (message: string): DriaError {
  return new DriaError('RESULT_MALFORMED', message)
}

/**
 * Output must be the JSON shape of its kind. Returns the text exactly as signed (not
 * re-serialized), so the stored outcome and signature still verify as a receipt.
 */
function checkOutput (kind: TaskKindName, bytes: Uint8Array): { text: string, output: Record<string, unknown> } {
  let text: string
  let output: unknown
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
    output = JSON.parse(text)
  } catch {
    throw malformed('output is not UTF-8 JSON')
  }
  if (typeof output !== 'object' || output === null) throw malformed('output is not an object')
  const o = output as Record<string, unknown>
  if (kind === 'embedding') {
    const ok = Array.isArray(o.embeddings) && o.embeddings.length > 0 &&
      o.embeddings.every(v => Array.isArray(v) && v.length > 0 && v.every(x => typeof x === 'number' && Number.isFinite(x)))
    if (!ok) throw malformed('embeddings must be non-empty arrays of finite numbers')
  } else {
    if (typeof o.text !== 'string') throw malformed('output.text must be a string')
    if (typeof o.finish_reason !== 'string' || !FINISH_REASONS.has(o.finish_reason)) throw malformed('output.finish_reason is invalid')
  }
  return { text, output: o }
}

/**
 * Checks a successful result before it is accepted: the node's signature (the receipt),
 * that it answers this attempt of this task, the advertised model digest, the output
 * structure, structured output against its schema, and usage within the requested bound. Throws a coded DriaError on any mismatch.
 */
export async function verifyResult (result: TaskResult, expected: ResultExpectations): Promise<TaskOutcome> {
  await verifyTaskResult(expected.peerId, result)
  if (result.taskId !== expected.taskId || result.attempt !== expected.attempt) {
    throw new DriaError('RESULT_WRONG_TASK', `result is for ${result.taskId}#${result.attempt}`)
  }
  if (result.modelDigest !== expected.modelDigest) {
    throw new DriaError('RESULT_WRONG_MODEL', `result digest ${result.modelDigest} differs from advertised ${expected.modelDigest}`)
  }
  const { text, output } = checkOutput(expected.kind, result.output)
  if (expected.responseFormat !== undefined && output.finish_reason === 'stop') {
    checkStructuredOutput(output.text as string, expected.responseFormat)
  }
  const usage = result.usage ?? { promptTokens: 0, completionTokens: 0 }
  if (expected.maxTokens !== undefined && usage.completionTokens > expected.maxTokens) {
    throw new DriaError('RESULT_USAGE_EXCEEDED', `${usage.completionTokens} completion tokens exceed max_tokens ${expected.maxTokens}`)
  }
  return {
    output: text,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    peer: expected.peerId.toString(),
    modelDigest: result.modelDigest,
    signature: Buffer.from(result.signature).toString('base64'),
    finishedAt: Date.now()
  }
}
