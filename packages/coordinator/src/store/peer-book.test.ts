import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from './index.js'

describe('PeerBook', () => {
  let dir: string

  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('remembers known and quarantined peers across a restart', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-peers-'))
    let store = await openStore(dir)
    await store.peers.remember({ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/1'] })
    await store.peers.remember({ id: 'peer-b', multiaddrs: ['/ip4/127.0.0.1/tcp/2'] })
    await store.peers.remember({ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/3'] })
    await store.peers.forget('peer-b')
    await store.peers.quarantine('peer-c', 3)
    await store.close()

    store = await openStore(dir)
    expect(await store.peers.all()).toEqual([{ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/3'] }])
    expect(await store.peers.quarantined()).toEqual(['peer-c'])
    await store.close()
  })
})
