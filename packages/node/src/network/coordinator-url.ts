import { isIP } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@dria/protocol'
import { COORDINATOR_URL_RETRY_MS, COORDINATOR_URL_WAIT_MS } from '../constants.js'
import { NodeErrorCode, nodeError } from '../errors.js'

interface NetworkInfo {
  peerId: string
  multiaddrs: string[]
}

const LOOPBACK = /^\/ip[46]\/(127\.|::1\/)/

/**
 * The coordinator's P2P addresses, from its HTTP API (`GET /api/v0/network/info`): first the
 * URL's own host with the coordinator's P2P port (the name that reaches it from here, e.g.
 * `coordinator` in a compose network), then the non-loopback addresses it listens on.
 */
export function bootstrapFromInfo (url: URL, info: NetworkInfo): string[] {
  const listened = info.multiaddrs.map(address => multiaddr(address))
  const port = listened.map(ma => ma.getComponents().find(c => c.name === 'tcp')?.value).find(value => value !== undefined)
  const own = `/p2p/${info.peerId}`
  const withId = (address: string): string => address.endsWith(own) ? address : `${address}${own}`
  const hostname = url.hostname.replace(/^\[|\]$/g, '')
  const viaUrl = port === undefined
    ? []
    : [`/${isIP(hostname) === 6 ? 'ip6' : isIP(hostname) === 4 ? 'ip4' : 'dns4'}/${hostname}/tcp/${port}${own}`]
  const others = info.multiaddrs.filter(address => !LOOPBACK.test(address) && !address.startsWith('/ip4/0.0.0.0/')).map(withId)
  return [...new Set([...viaUrl, ...others])]
}

/**
 * Asks the coordinator at `url` for its P2P addresses, retrying for a while (it may be
 * starting too, e.g. after a reboot), so `--coordinator-url` replaces a hand-copied `--bootstrap`.
 */
export async function resolveCoordinatorUrl (components: { logger: Logger }, url: string, options: { waitMs?: number } = {}): Promise<string[]> {
  const log = components.logger.child({ module: 'network' })
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw nodeError(NodeErrorCode.COORDINATOR_UNREACHABLE, `--coordinator-url ${url} is not a URL: expected e.g. http://coordinator.example.org:8080`)
  }
  const deadline = Date.now() + (options.waitMs ?? COORDINATOR_URL_WAIT_MS)
  let reason = ''
  for (;;) {
    try {
      const response = await fetch(new URL('/api/v0/network/info', parsed), { signal: AbortSignal.timeout(COORDINATOR_URL_RETRY_MS) })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      const info = await response.json() as NetworkInfo
      if (typeof info?.peerId !== 'string' || !Array.isArray(info.multiaddrs)) throw new Error('not a Dria coordinator answer')
      const addresses = bootstrapFromInfo(parsed, info)
      log.info({ url, bootstrap: addresses }, 'coordinator found')
      return addresses
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err)
    }
    if (Date.now() >= deadline) break
    log.warn({ url, reason }, 'coordinator not answering yet')
    await sleep(COORDINATOR_URL_RETRY_MS)
  }
  throw nodeError(NodeErrorCode.COORDINATOR_UNREACHABLE, `the coordinator at ${url} did not answer GET /api/v0/network/info (${reason}): check --coordinator-url, or pass its P2P address with --bootstrap`)
}
