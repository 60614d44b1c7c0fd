import { createHash, randomBytes } from 'node:crypto'
import { DEFAULT_MAX_TOKENS, TaskKind, parseOpenAIBody } from '@dria/protocol'
import type { ResponseFormat, TaskKindName, TaskRequest } from '@dria/protocol'
import type { NodeSession } from '../network/index.js'
import type { TaskOutcome, TaskRow } from '../store/index.js'

export const TASK_KINDS: Record<TaskKindName, TaskKind> = {
  chat: TaskKind.TASK_KIND_CHAT,
  completion: TaskKind.TASK_KIND_COMPLETION,
  embedding: TaskKind.TASK_KIND_EMBEDDING
}

const encoder = new TextEncoder()

/** One attempt of a job on one node. */
export interface Flight {
  job: Job
  session: NodeSession
  taskId: string
  controller: AbortController
  startedAt: number
}

/** One request to run somewhere: a batch line or a real-time request. */
export interface Job {
  /** `batchId#index` for batch lines, `rt#<n>` for real-time requests. */
  key: string
  owner: string
  kind: TaskKindName
  model: string
  /** The request body as stored (JSON) and as sent. */
  json: string
  body: Uint8Array
  /** The seed every attempt samples from: the user's, or one derived from the job's key. */
  seed: number
  /** What the request bounds its answer by, for checks and deadlines. */
  maxTokens?: number
  /** Structured output the answer is held to (none when a stop sequence may cut it short). */
  responseFormat?: ResponseFormat
  /** Images and audio clips in the request. */
  mediaParts: number
  /** Attempts dispatched (backups included). */
  attempts: number
  /** Failures the line itself may be to blame for (non-retryable engine errors, refusals as invalid), by peer. */
  lineFailures: string[]
  /** Checks of its answers that ended with the verifiers split. */
  splitChecks: number
  flights: Set<Flight>
  /** Aborts the job's checks when it settles or is abandoned; made when a check starts. */
  abort?: AbortController
  /** A result is being checked: no new attempts meanwhile. */
  checking: boolean
  /** Answers of finished attempts still being processed (no backup for a job about to settle). */
  replies: number
  settled: boolean
  /** Batch lines: the stored row. */
  row?: TaskRow
  /** Real-time requests: who waits for the answer. */
  waiter?: { resolve: (outcome: TaskOutcome) => void, reject: (err: unknown) => void }
}

/**
 * The seed of a line that set none: derived from its key, so every attempt and every check of
 * the line samples the same tokens (and a restart does not change them).
 */
export function derivedSeed (key: string): number {
  return createHash('sha256').update(`dria-seed:${key}`).digest().readUIntBE(0, 6)
}

const TASK_ID_BYTES = 12
/** Random bytes drawn at once for this many task ids: one draw per id cost 2.5 % of dispatch. */
const TASK_IDS_PER_DRAW = 1024
let idPool = Buffer.alloc(0)
let idAt = 0

/** Task ids say nothing about the line: an audit cannot be told from ordinary work. */
export function newTaskId (): string {
  if (idAt + TASK_ID_BYTES > idPool.length) {
    idPool = randomBytes(TASK_ID_BYTES * TASK_IDS_PER_DRAW)
    idAt = 0
  }
  idAt += TASK_ID_BYTES
  return idPool.toString('base64url', idAt - TASK_ID_BYTES, idAt)
}

export function createJob (init: { key: string, owner: string, kind: TaskKindName, model: string, json: string, row?: TaskRow }): Job {
  const parsed = parseOpenAIBody(init.kind, JSON.parse(init.json))
  const request = parsed.kind === 'embedding' ? undefined : parsed.request
  return {
    key: init.key,
    owner: init.owner,
    kind: init.kind,
    model: init.model,
    json: init.json,
    body: encoder.encode(init.json),
    seed: request?.seed ?? derivedSeed(init.key),
    maxTokens: request?.maxTokens,
    // A stop sequence may cut structured output anywhere: such an answer cannot be held to it.
    responseFormat: request?.stop !== undefined && request.stop.length > 0 ? undefined : request?.responseFormat,
    mediaParts: request !== undefined && 'messages' in request ? request.messages.reduce((n, m) => n + (m.images?.length ?? 0) + (m.audio?.length ?? 0), 0) : 0,
    attempts: 0,
    lineFailures: [],
    splitChecks: 0,
    flights: new Set(),
    checking: false,
    replies: 0,
    settled: false,
    row: init.row
  }
}

/** Tokens a job may generate: its own bound, or the engines' default. */
export function tokenBudget (job: Job): number {
  return job.kind === 'embedding' ? 1 : (job.maxTokens ?? DEFAULT_MAX_TOKENS)
}

export function taskRequestOf (job: Job, taskId: string, nodeTimeoutMs: number): TaskRequest {
  return {
    taskId,
    attempt: job.attempts,
    kind: TASK_KINDS[job.kind],
    model: job.model,
    body: job.body,
    timeoutMs: nodeTimeoutMs,
    seed: job.kind === 'embedding' ? undefined : job.seed
  }
}
