import { generateKeyPair } from '@libp2p/crypto/keys'
import { createDriaHost } from '../src/index.js'
import type { DriaHost } from '../src/index.js'
import type { PrivateKey } from '@libp2p/interface'

export interface TestPeer {
  host: DriaHost
  privateKey: PrivateKey
}

export async function startPeer (bootstrap: string[] = []): Promise<TestPeer> {
  const privateKey = await generateKeyPair('Ed25519')
  return { host: await createDriaHost({ privateKey, bootstrap }), privateKey }
}

/** kad-dht does not type its routing table; tests peek at it to know when lookups can start. */
function routingTableSize (host: DriaHost): number {
  return (host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
}

export async function waitFor (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** A bootstrap peer plus `size` peers that joined through it, all with a DHT peer. */
export async function startNetwork (size: number): Promise<TestPeer[]> {
  const first = await startPeer()
  const bootstrap = [first.host.getMultiaddrs()[0].toString()]
  const rest = await Promise.all(Array.from({ length: size }, async () => await startPeer(bootstrap)))
  const peers = [first, ...rest]
  await waitFor(() => routingTableSize(first.host) === size && rest.every(p => routingTableSize(p.host) > 0), 'DHT routing tables')
  return peers
}

export async function stopAll (peers: TestPeer[]): Promise<void> {
  await Promise.all(peers.map(async p => { await p.host.stop() }))
}
