import { openSession } from '@dria/p2p'
import { SESSION_VERSIONS } from '@dria/protocol'
import type { TaskRequest } from '@dria/protocol'
import { createNodeSession } from '@dria/coordinator'
import type { DriaHost } from '@dria/p2p'
import type { NodeSession, TaskReply } from '@dria/coordinator'
import { runConcurrently } from '@dria/testkit'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

/**
 * A session straight to one node, without a coordinator's scheduling or verification: the
 * "plain script driving the engines" baselines send their tasks through it.
 */
export async function directSession (host: DriaHost, node: { peerId: string, multiaddrs: string[] }): Promise<NodeSession> {
  await host.dial(multiaddr(node.multiaddrs[0]))
  const session = await openSession(host, peerIdFromString(node.peerId), {
    hello: { versions: [...SESSION_VERSIONS], agent: 'dria-bench', slots: 0, queueDepth: 0, engine: '', models: [] }
  })
  return createNodeSession(session, { initialWindow: 1024 })
}

/** Refusals one task may meet before the plain script gives up on it. */
const MAX_SENDS = 1_000

/**
 * Runs tasks 0…count-1 straight on the nodes: task i on node i mod n, `perNode` at a time on
 * each (one number for all, or one per node), every one sent again until the node takes it (a plain script must finish every line;
 * counted as done, a refusal at capacity, answered at once, would flatter the baseline).
 * Resolves with the replies in task order.
 */
export async function runDirect (sessions: NodeSession[], count: number, perNode: number | number[], request: (i: number, send: number) => TaskRequest, timeoutMs = 60_000): Promise<TaskReply[]> {
  const replies = new Array<TaskReply>(count)
  await Promise.all(sessions.map(async (session, n) => {
    const mine = Array.from({ length: Math.ceil((count - n) / sessions.length) }, (_, k) => n + k * sessions.length)
    await runConcurrently(mine.length, typeof perNode === 'number' ? perNode : perNode[n], async k => {
      for (let send = 0; send < MAX_SENDS; send++) {
        const reply = await session.run(request(mine[k], send), { deadlineMs: timeoutMs })
        if (reply.rejection === undefined) {
          replies[mine[k]] = reply
          return
        }
      }
      throw new Error(`task ${mine[k]} refused ${MAX_SENDS} times`)
    })
  }))
  return replies
}
