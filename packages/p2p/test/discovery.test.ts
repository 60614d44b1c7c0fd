import { CapacityRecord, ModelKind, capacityRecordKey, createLogger, signCapacityRecord } from '@dria/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDiscovery } from '../src/index.js'
import { startNetwork, startPeer, stopAll } from './network.js'
import type { TestPeer } from './network.js'
import type { Discovery } from '../src/index.js'
import type { Logger } from '@dria/protocol'
import type { PeerId } from '@libp2p/interface'

const logger: Logger = createLogger('test')

function capacity (peerId: PeerId, seq: number): CapacityRecord {
  return {
    peerId: peerId.toMultihash().bytes,
    seq,
    issuedAtMs: Date.now(),
    version: '0.1.0',
    engine: 'llama.cpp',
    models: [{ name: 'stories260K', digest: 'sha256:ab', kind: ModelKind.MODEL_KIND_CHAT, tokensPerSecond: 1400, contextLength: 512 }],
    slotsTotal: 4,
    slotsFree: seq % 4,
    multiaddrs: []
  }
}

/** Records decoded off the wire hold Buffers; compare their encodings. */
function encoded (record: CapacityRecord | undefined): Uint8Array | undefined {
  return record == null ? undefined : Uint8Array.from(CapacityRecord.encode(record))
}

const sorted = (ids: PeerId[]): string[] => ids.map(id => id.toString()).sort()

describe('discovery on a 5-host DHT (4 bootstrapped to one)', () => {
  let peers: TestPeer[]
  let discovery: Discovery[]

  beforeAll(async () => {
    peers = await startNetwork(4)
    discovery = peers.map(({ host }) => createDiscovery({ host, logger }))
  })

  afterAll(async () => { await stopAll(peers ?? []) })

  it('finds the two providers of a model from a third peer', async () => {
    await Promise.all([discovery[1].provideModels(['stories260K']), discovery[2].provideModels(['stories260K', 'tiny-random'])])
    const found = await discovery[3].findProviders('stories260K')
    expect(sorted(found)).toEqual(sorted([peers[1].host.peerId, peers[2].host.peerId]))
    expect(await discovery[4].findProviders('stories260K', { limit: 1 })).toHaveLength(1)
    expect(sorted(await discovery[0].findProviders('tiny-random'))).toEqual(sorted([peers[2].host.peerId]))
  })

  it('excludes itself and returns nothing for unknown models', async () => {
    expect(sorted(await discovery[1].findProviders('stories260K'))).toEqual(sorted([peers[2].host.peerId]))
    expect(await discovery[3].findProviders('no-such-model')).toEqual([])
  })

  it('publishes a capacity record that another peer fetches verified, newest seq first', async () => {
    const publisher = peers[1]
    const record = capacity(publisher.host.peerId, 1)
    const first = await discovery[1].publishCapacity(publisher.privateKey, record)
    expect(first.acks).toBeGreaterThan(0)
    expect(encoded(await discovery[3].fetchCapacity(publisher.host.peerId))).toEqual(encoded(record))

    const newer = { ...capacity(publisher.host.peerId, 2), issuedAtMs: 42 }
    expect((await discovery[1].publishCapacity(publisher.privateKey, newer)).acks).toBeGreaterThan(0)
    expect(encoded(await discovery[4].fetchCapacity(publisher.host.peerId))).toEqual(encoded(newer))
    expect(await discovery[4].fetchCapacity(peers[2].host.peerId)).toBeUndefined()
  })

  it('refuses to publish a record that names another peer', async () => {
    const record = capacity(peers[2].host.peerId, 5)
    await expect(discovery[1].publishCapacity(peers[1].privateKey, record)).rejects.toMatchObject({ code: 'RECORD_KEY_MISMATCH' })
  })

  it('rejects a forged record put directly into the DHT', async () => {
    const victim = peers[3]
    await discovery[3].publishCapacity(victim.privateKey, capacity(victim.host.peerId, 10))
    const attackerKey = await generateKeyPair('Ed25519')
    const key = capacityRecordKey(victim.host.peerId)
    const forged = await signCapacityRecord(attackerKey, capacity(victim.host.peerId, 1_000))

    let acks = 0
    let rejections = 0
    for await (const event of peers[2].host.services.dht.put(key, forged)) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') acks++
      if (event.name === 'QUERY_ERROR') rejections++
    }
    expect(acks).toBe(0)
    expect(rejections).toBeGreaterThan(0)
    // Even the attacker's own host (which stored the forgery locally) only returns the real record.
    expect((await discovery[2].fetchCapacity(victim.host.peerId))?.seq).toBe(10)
    expect((await discovery[4].fetchCapacity(victim.host.peerId))?.seq).toBe(10)
  })
})

describe('discovery on a host without peers', () => {
  let peer: TestPeer | undefined
  afterAll(async () => { await peer?.host.stop() })

  it('answers at once instead of waiting for peers', async () => {
    peer = await startPeer()
    const discovery = createDiscovery({ host: peer.host, logger })
    await discovery.provideModels(['stories260K'])
    expect(await discovery.findProviders('stories260K')).toEqual([])
    expect(await discovery.publishCapacity(peer.privateKey, capacity(peerIdFromPrivateKey(peer.privateKey), 1))).toEqual({ acks: 0 })
    expect(await discovery.fetchCapacity(peer.host.peerId)).toBeUndefined()
  })

  it('rethrows the caller\'s abort', async () => {
    const discovery = createDiscovery({ host: peer!.host, logger })
    const controller = new AbortController()
    controller.abort(new Error('caller gave up'))
    await expect(discovery.findProviders('stories260K', { signal: controller.signal })).rejects.toThrow('caller gave up')
  })
})
