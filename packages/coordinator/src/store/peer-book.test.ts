import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from './index.js'

describe('PeerBook', () => {
  let dir: string

  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('remembers known peers and trust records across a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-peers-'))
    let store = await openStore(dir)
    await store.peers.remember({ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/1'] })
    await store.peers.remember({ id: 'peer-b', multiaddrs: ['/ip4/127.0.0.1/tcp/2'] })
    await store.peers.remember({ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/3'] })
    await store.peers.forget('peer-b')
    const record = { peerId: 'peer-c', level: 'quarantined' as const, firstSeen: 1, since: 2, reason: 'lied', checks: { passed: 3, failed: 1 }, strikes: 0, served: { tasks: 3, tokens: 90 } }
    await store.trust.putMany([record])
    await store.close()

    store = await openStore(dir)
    expect(await store.peers.all()).toEqual([{ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/3'] }])
    expect(await store.trust.all()).toEqual([record])
    await store.close()
  })
})
