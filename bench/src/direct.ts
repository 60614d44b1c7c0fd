import { openSession } from '@dria/p2p'
import { SESSION_VERSIONS } from '@dria/protocol'
import { createNodeSession } from '@dria/coordinator'
import type { DriaHost } from '@dria/p2p'
import type { NodeSession } from '@dria/coordinator'
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
