import { describe, expect, it } from 'vitest'
import { isDriaError } from '@dria/protocol'
import { listenError, validateAnnounce, validateBootstrap } from './addresses.js'
import { bootstrapFromInfo } from './coordinator-url.js'

const ID = '12D3KooWFb6UfnnHLXP6wVFcyE1koTE9KmpTjWCXybPAtBK5Hgcg'

function code (run: () => unknown): string | undefined {
  try {
    run()
  } catch (err) {
    if (isDriaError(err)) return err.code
    throw err
  }
  return undefined
}

describe('address checks', () => {
  it('accepts dialable bootstrap addresses and refuses the rest with BOOTSTRAP_INVALID', () => {
    expect(code(() => { validateBootstrap([`/ip4/10.0.0.1/tcp/4001/p2p/${ID}`, `/dns4/coordinator/tcp/4001/p2p/${ID}`, `/ip6/::1/tcp/4001/p2p/${ID}`]) })).toBeUndefined()
    for (const bad of ['', 'coordinator:4001', '/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.1/p2p/${ID}`, '/ip4/10.0.0.1/tcp/4001/p2p/xyz', `/p2p/${ID}`]) {
      expect(code(() => { validateBootstrap([bad]) })).toBe('BOOTSTRAP_INVALID')
    }
  })

  it('accepts TCP announce addresses and refuses others with ANNOUNCE_INVALID', () => {
    expect(code(() => { validateAnnounce(['/ip4/203.0.113.7/tcp/4002', '/dns4/node.example.org/tcp/4002']) })).toBeUndefined()
    expect(code(() => { validateAnnounce(['203.0.113.7:4002']) })).toBe('ANNOUNCE_INVALID')
    expect(code(() => { validateAnnounce(['/ip4/203.0.113.7/udp/4002']) })).toBe('ANNOUNCE_INVALID')
  })

  it('turns listen failures into P2P_PORT_IN_USE and P2P_LISTEN_FAILED, and leaves others alone', () => {
    const inUse = listenError(new Error('/ip4/127.0.0.1/tcp/4001: Error: listen EADDRINUSE: address already in use'), '127.0.0.1', 4001)
    expect(isDriaError(inUse, 'P2P_PORT_IN_USE')).toBe(true)
    expect(isDriaError(listenError(new Error('listen EADDRNOTAVAIL'), '10.9.9.9', 4001), 'P2P_LISTEN_FAILED')).toBe(true)
    const other = new Error('something else')
    expect(listenError(other, '127.0.0.1', 4001)).toBe(other)
  })
})

describe('bootstrap addresses from a coordinator URL', () => {
  it('dials the URL host on the coordinator P2P port first, then its non-loopback addresses', () => {
    const info = { peerId: ID, multiaddrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${ID}`, `/ip4/172.18.0.2/tcp/4001/p2p/${ID}`, '/ip6/::1/tcp/4001'] }
    const addresses = bootstrapFromInfo(new URL('http://coordinator:8080'), info)
    expect(addresses).toEqual([`/dns4/coordinator/tcp/4001/p2p/${ID}`, `/ip4/172.18.0.2/tcp/4001/p2p/${ID}`])
    expect(bootstrapFromInfo(new URL('http://10.1.2.3:8080'), info)[0]).toBe(`/ip4/10.1.2.3/tcp/4001/p2p/${ID}`)
    expect(bootstrapFromInfo(new URL('http://[2001:db8::1]:8080'), info)[0]).toBe(`/ip6/2001:db8::1/tcp/4001/p2p/${ID}`)
    for (const address of addresses) expect(code(() => { validateBootstrap([address]) })).toBeUndefined()
  })
})
