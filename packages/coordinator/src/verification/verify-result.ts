import { DEFAULT_MAX_TOKENS, DriaError, ResultVerifier } from '@dria/protocol'
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
  /**
   * Bytes of the request body. Every prompt token stands for at least one byte of the prompt
   * (plus a chat template's few), so a claim far above it is a lie even unchecked.
   */
  requestBytes?: number
  /** Images and audio clips in the request: each may stand for far more tokens than its bytes. */
  mediaParts?: number
}

/** Tokens a chat template may add to the prompt beyond its text. */
const TEMPLATE_TOKEN_SLACK = 256
/** Tokens one image or audio clip may become (a tiny icon still fills a vision encoder's grid). */
const MEDIA_TOKEN_SLACK = 4_096

const defaultVerifier = new ResultVerifier()

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
    if (o.tokens !== undefined && !(Array.isArray(o.tokens) && o.tokens.every(t => Number.isInteger(t) && t >= 0))) throw malformed('output.tokens must be token ids')
    if (o.sampler !== undefined && typeof o.sampler !== 'string') throw malformed('output.sampler must be a string')
  }
  return { text, output: o }
}

/**
 * Checks that `result` is the signed answer of `expected.peerId` to this attempt of this task,
 * computed with the advertised weights: what makes any result (or score report) a receipt.
 */
export async function verifyReceipt (result: TaskResult, expected: Pick<ResultExpectations, 'peerId' | 'taskId' | 'attempt' | 'modelDigest'>, verifier = defaultVerifier): Promise<void> {
  await verifier.verify(expected.peerId, result)
  if (result.taskId !== expected.taskId || result.attempt !== expected.attempt) {
    throw new DriaError('RESULT_WRONG_TASK', `result is for ${result.taskId}#${result.attempt}`)
  }
  if (result.modelDigest !== expected.modelDigest) {
    throw new DriaError('RESULT_WRONG_MODEL', `result digest ${result.modelDigest} differs from advertised ${expected.modelDigest}`)
  }
}

/**
 * Checks a successful result before it is accepted: the node's signature (the receipt),
 * that it answers this attempt of this task, the advertised model digest, the output
 * structure, structured output against its schema, and usage within what the request allows
 * and consistent with the tokens the node returned. Throws a coded DriaError on any mismatch:
 * each is proof that the node misbehaved (it signed what it sent).
 */
export async function verifyResult (result: TaskResult, expected: ResultExpectations, verifier = defaultVerifier): Promise<TaskOutcome> {
  await verifyReceipt(result, expected, verifier)
  const { text, output } = checkOutput(expected.kind, result.output)
  if (expected.responseFormat !== undefined && output.finish_reason === 'stop') {
    checkStructuredOutput(output.text as string, expected.responseFormat)
  }
  const usage = result.usage ?? { promptTokens: 0, completionTokens: 0 }
  if (expected.kind !== 'embedding') {
    const bound = expected.maxTokens ?? DEFAULT_MAX_TOKENS
    if (usage.completionTokens > bound) {
      throw new DriaError('RESULT_USAGE_EXCEEDED', `${usage.completionTokens} completion tokens exceed max_tokens ${bound}`)
    }
    if (Array.isArray(output.tokens) && output.tokens.length !== usage.completionTokens) {
      throw new DriaError('RESULT_USAGE_MISMATCH', `${usage.completionTokens} completion tokens claimed for ${output.tokens.length} tokens returned`)
    }
  } else if (usage.completionTokens !== 0) {
    throw new DriaError('RESULT_USAGE_MISMATCH', 'embeddings generate no completion tokens')
  }
  if (expected.requestBytes !== undefined && usage.promptTokens > expected.requestBytes + TEMPLATE_TOKEN_SLACK + (expected.mediaParts ?? 0) * MEDIA_TOKEN_SLACK) {
    throw new DriaError('RESULT_USAGE_EXCEEDED', `${usage.promptTokens} prompt tokens claimed for a request of ${expected.requestBytes} bytes`)
  }
  return {
    output: text,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    peer: expected.peerId.toString(),
    modelDigest: result.modelDigest,
    signature: Buffer.from(result.signature).toString('base64'),
    finishedAt: Date.now(),
    ...(typeof output.sampler === 'string' ? { sampler: output.sampler } : {})
  }
}
