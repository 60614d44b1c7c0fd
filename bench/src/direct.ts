import { openSession } from '@dria/p2p'
import { SESSION_VERSIONS } from '@dria/protocol'
import { createNodeSession } from '@dria/coordinator'
import type { DriaHost } from '@dria/p2p'
import type { NodeSession } from '@dria/coordinator'
import type { PeerId } from '@libp2p/interface'

/**
 * A session straight to one node, without a coordinator's scheduling or verification: the
 * "plain script driving the engines" baselines send their tasks through it.
 */
export async function directSession (host: DriaHost, peer: PeerId): Promise<NodeSession> {
  const session = await openSession(host, peer, {
    hello: { versions: [...SESSION_VERSIONS], agent: 'dria-bench', slots: 0, queueDepth: 0, engine: '', models: [] }
  })
  return createNodeSession(session, { initialWindow: 1024 })
}
