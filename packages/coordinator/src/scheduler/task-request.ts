import { TaskKind, parseOpenAIBody } from '@dria/protocol'
import type { ResponseFormat, TaskKindName, TaskRequest, TaskResult } from '@dria/protocol'
import type { NodePeer } from '../network/index.js'
import type { TaskOutcome, TaskRow } from '../store/index.js'
import { verifyResult } from '../verification/index.js'

const TASK_KINDS: Record<TaskKindName, TaskKind> = {
  chat: TaskKind.TASK_KIND_CHAT,
  completion: TaskKind.TASK_KIND_COMPLETION,
  embedding: TaskKind.TASK_KIND_EMBEDDING
}

/** The wire request for one attempt of a row; the node gets a deadline shorter than ours. */
export function taskRequestOf (row: TaskRow, taskId: string, timeoutMs: number): TaskRequest {
  return {
    taskId,
    attempt: row.attempts,
    kind: TASK_KINDS[row.kind],
    model: row.model,
    body: new TextEncoder().encode(row.body),
    // The node gives up first, so its error (not our timeout) explains the failure.
    timeoutMs: Math.max(1_000, timeoutMs - 5_000)
  }
}

/** What the request itself bounds: its max_tokens and structured-output format. */
function expectationsOf (row: TaskRow): { maxTokens?: number, responseFormat?: ResponseFormat } {
  const parsed = parseOpenAIBody(row.kind, JSON.parse(row.body))
  if (parsed.kind === 'embedding') return {}
  return { maxTokens: parsed.request.maxTokens, responseFormat: parsed.request.responseFormat }
}

/** Checks `peer`'s answer to attempt `row.attempts` of `taskId` (see verifyResult). */
export async function verifyAnswer (result: TaskResult, row: TaskRow, taskId: string, peer: NodePeer): Promise<TaskOutcome> {
  return await verifyResult(result, {
    peerId: peer.peerId,
    taskId,
    attempt: row.attempts,
    kind: row.kind,
    modelDigest: peer.models.get(row.model)?.digest ?? '',
    ...expectationsOf(row)
  })
}

/** Greedy or seeded generation, and embeddings, give the same bytes on every honest node. */
export function isDeterministic (row: TaskRow): boolean {
  if (row.kind === 'embedding') return true
  const body = JSON.parse(row.body) as { temperature?: number, seed?: number }
  return body.temperature === 0 || typeof body.seed === 'number'
}
