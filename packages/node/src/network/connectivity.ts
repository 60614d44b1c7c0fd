import type { DriaHost } from '@dria/p2p'
import type { Logger } from '@dria/protocol'
import { NodeErrorCode } from '../errors.js'

export interface ConnectivityWatch {
  stop(): void
}

/**
 * Says when the node is alone: a warning every `warnAfterMs` while no peer is connected (a
 * node nobody can reach gets no work, and nothing else would say so), and an info line when
 * the first peer connects.
 */
export function watchConnectivity (components: { host: DriaHost, logger: Logger }, init: { bootstrap: string[], warnAfterMs: number }): ConnectivityWatch {
  const { host } = components
  const log = components.logger.child({ module: 'network' })
  let connected = host.getConnections().length > 0
  let aloneSince = Date.now()
  const hint = init.bootstrap.length === 0
    ? 'no --bootstrap given: pass the coordinator\'s multiaddr so the node joins the network'
    : 'check that the --bootstrap peers are running and that this machine can reach their address and port'

  const onConnect = (): void => {
    if (connected) return
    connected = true
    log.info({ peers: host.getPeers().length }, 'connected to the network')
  }
  const onDisconnect = (): void => {
    if (host.getConnections().length > 0 || !connected) return
    connected = false
    aloneSince = Date.now()
  }
  host.addEventListener('peer:connect', onConnect)
  host.addEventListener('peer:disconnect', onDisconnect)
  const timer = setInterval(() => {
    if (host.getConnections().length > 0) return
    log.warn({ code: NodeErrorCode.NOT_CONNECTED, bootstrap: init.bootstrap, aloneForMs: Date.now() - aloneSince, hint }, 'not connected to any peer')
  }, init.warnAfterMs)
  timer.unref()

  return {
    stop () {
      clearInterval(timer)
      host.removeEventListener('peer:connect', onConnect)
      host.removeEventListener('peer:disconnect', onDisconnect)
    }
  }
}
