import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { NodeErrorCode, nodeError } from '../errors.js'

const HOST_PROTOCOLS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])
const BOOTSTRAP_FORM = 'expected /ip4/<address>/tcp/<port>/p2p/<peer id> (or /dns4/<name>/…), as the coordinator lists them at GET /api/v0/network/info'

function parse (address: string): Multiaddr | undefined {
  try {
    return multiaddr(address)
  } catch {
    return undefined
  }
}

/** What is wrong with a TCP multiaddr of this network, or undefined when nothing is. */
function tcpProblem (ma: Multiaddr | undefined): string | undefined {
  if (ma === undefined) return 'is not a multiaddr'
  const names = ma.getComponents().map(c => c.name)
  if (!HOST_PROTOCOLS.has(names[0] ?? '')) return 'does not start with /ip4, /ip6 or /dns4 and a host'
  if (names[1] !== 'tcp') return 'has no /tcp/<port> after the host'
  return undefined
}

/**
 * Checks every `--bootstrap` address before anything starts: libp2p silently ignores one it
 * cannot use, and a node that joins nothing looks healthy.
 */
export function validateBootstrap (addresses: string[]): void {
  for (const address of addresses) {
    const ma = parse(address)
    let problem = tcpProblem(ma)
    if (problem === undefined) {
      const id = ma?.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) problem = 'has no /p2p/<peer id> at the end'
      else {
        try {
          peerIdFromString(id)
        } catch {
          problem = `ends in /p2p/${id}, which is not a peer id`
        }
      }
    }
    if (problem !== undefined) throw nodeError(NodeErrorCode.BOOTSTRAP_INVALID, `--bootstrap ${address} ${problem}: ${BOOTSTRAP_FORM}`)
  }
}

/** `--announce` addresses (what peers should dial, e.g. a public address behind NAT). */
export function validateAnnounce (addresses: string[]): void {
  for (const address of addresses) {
    const problem = tcpProblem(parse(address))
    if (problem !== undefined) throw nodeError(NodeErrorCode.ANNOUNCE_INVALID, `--announce ${address} ${problem}: expected e.g. /ip4/203.0.113.7/tcp/4002 (the public address and port forwarded to --p2p-port)`)
  }
}

/** libp2p's listen failure (which advises `transportManager.faultTolerance`) as what to do about it. */
export function listenError (err: unknown, host: string, port: number): unknown {
  const message = err instanceof Error ? err.message : ''
  if (message.includes('EADDRINUSE')) {
    return nodeError(NodeErrorCode.P2P_PORT_IN_USE, `P2P port ${port} on ${host} is already in use (another dria-node?): stop that process or choose another port with --p2p-port`, err)
  }
  if (message.includes('EADDRNOTAVAIL') || message.includes('EACCES')) {
    return nodeError(NodeErrorCode.P2P_LISTEN_FAILED, `cannot listen on ${host} port ${port} (${message.includes('EACCES') ? 'permission denied' : 'not an address of this machine'}): use --host 0.0.0.0 or one of this machine's addresses, and a --p2p-port above 1023`, err)
  }
  return err
}
