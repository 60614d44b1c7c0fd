import { peerIdFromString } from '@libp2p/peer-id'
import { createNodeSession } from '@dria/coordinator'
import type { NodeSession } from '@dria/coordinator'
import { openSession } from '@dria/p2p'
import type { DriaHost } from '@dria/p2p'
import { SESSION_VERSIONS, TaskKind } from '@dria/protocol'
import type { TaskRequest } from '@dria/protocol'

/** The coordinator's real session client, opened straight to one node (no scheduling). */
export async function nodeSession (host: DriaHost, peerId: string): Promise<NodeSession> {
  const session = await openSession(host, peerIdFromString(peerId), {
    hello: { versions: [...SESSION_VERSIONS], agent: 'test', slots: 0, queueDepth: 0, engine: '', models: [] }
  })
  return createNodeSession(session, { initialWindow: 1024 })
}

export function chatTask (taskId: string, model: string, body: Record<string, unknown>): TaskRequest {
  return { taskId, attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model, body: new TextEncoder().encode(JSON.stringify({ model, ...body })), timeoutMs: 30_000 }
}

export function completionTask (taskId: string, model: string, body: Record<string, unknown>): TaskRequest {
  return { ...chatTask(taskId, model, body), kind: TaskKind.TASK_KIND_COMPLETION }
}
