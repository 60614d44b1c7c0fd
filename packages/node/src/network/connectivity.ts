import { multiaddr } from '@multiformats/multiaddr'
import type { DriaHost } from '@dria/p2p'
import type { Logger } from '@dria/protocol'
import { BOOTSTRAP_REDIAL_MS } from '../constants.js'
import { NodeErrorCode } from '../errors.js'

export interface ConnectivityWatch {
  stop(): void
}

export interface ConnectivityInit {
  bootstrap: string[]
  /** Warn after this long alone, and again at this interval. */
  warnAfterMs: number
  /** While alone, dial the bootstrap peers this often (default 5 s, at most `warnAfterMs`). */
  redialMs?: number
}

/**
 * Says when the node is alone and does something about it: a warning every `warnAfterMs`
 * while no peer is connected (a node nobody reaches gets no work, and nothing else would say
 * so), redials of the bootstrap peers meanwhile (libp2p redials them only after a connection
 * was lost, not when the first dial failed, e.g. a node started before its coordinator), and
 * an info line when a peer connects.
 */
export function watchConnectivity (components: { host: DriaHost, logger: Logger }, init: ConnectivityInit): ConnectivityWatch {
  const { host } = components
  const log = components.logger.child({ module: 'network' })
  let connected = false
  let aloneSince = Date.now()
  const hint = init.bootstrap.length === 0
    ? 'no --bootstrap given: pass the coordinator\'s multiaddr so the node joins the network'
    : 'check that the --bootstrap peers are running and that this machine can reach their address and port'
  const alone = (): boolean => host.getConnections().length === 0

  const onConnect = (): void => {
    if (connected) return
    connected = true
    log.info({ peers: host.getPeers().length }, 'connected to the network')
  }
  const onDisconnect = (): void => {
    if (!alone() || !connected) return
    connected = false
    aloneSince = Date.now()
  }
  if (!alone()) onConnect()
  host.addEventListener('peer:connect', onConnect)
  host.addEventListener('peer:disconnect', onDisconnect)

  const warn = setInterval(() => {
    if (!alone()) return
    log.warn({ code: NodeErrorCode.NOT_CONNECTED, bootstrap: init.bootstrap, aloneForMs: Date.now() - aloneSince, hint }, 'not connected to any peer')
  }, init.warnAfterMs)
  const redialMs = Math.min(init.redialMs ?? BOOTSTRAP_REDIAL_MS, init.warnAfterMs)
  const redial = setInterval(() => {
    if (!alone()) return
    for (const address of init.bootstrap) {
      host.dial(multiaddr(address), { signal: AbortSignal.timeout(redialMs) }).catch((err: Error) => {
        log.debug({ address, err: err.message }, 'bootstrap dial failed')
      })
    }
  }, redialMs)
  warn.unref()
  redial.unref()

  return {
    stop () {
      clearInterval(warn)
      clearInterval(redial)
      host.removeEventListener('peer:connect', onConnect)
      host.removeEventListener('peer:disconnect', onDisconnect)
    }
  }
}
