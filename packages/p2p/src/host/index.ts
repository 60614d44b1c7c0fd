import { isIPv6 } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { CAPACITY_RECORD_NAMESPACE, DHT_PROTOCOL, capacityRecordSelector, capacityRecordValidator } from '@dria/protocol'
import { bootstrap as bootstrapDiscovery } from '@libp2p/bootstrap'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { KEEP_ALIVE } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2pOptions } from 'libp2p'
import {
  BOOTSTRAP_DIAL_DELAY_MS, BOOTSTRAP_RECONNECT_FACTOR, BOOTSTRAP_RECONNECT_INTERVAL_MS, BOOTSTRAP_RECONNECT_RETRIES, CONNECTION_PING_TIMEOUT_MS, DEFAULT_LISTEN_HOST, DIAL_TIMEOUT_MS, INBOUND_CONNECTIONS_PER_HOST_PER_SECOND,
  MAX_CONNECTIONS, MAX_INCOMING_PENDING_CONNECTIONS, YAMUX_MAX_EARLY_STREAMS
} from '../constants.js'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'

export interface DriaHostInit {
  /** Identity of the host; a fresh Ed25519 key when omitted. */
  privateKey?: PrivateKey
  /** Interface to listen on. Default `127.0.0.1`. */
  listenHost?: string
  /** TCP port; 0 (the default) picks a free one. */
  listenPort?: number
  /** Multiaddrs (with `/p2p/<peerId>`) dialled at start to join the network. */
  bootstrap?: string[]
  /** Multiaddrs to advertise instead of the listen addresses (e.g. behind NAT). */
  announce?: string[]
  /** libp2p's metrics implementation (e.g. `@libp2p/prometheus-metrics`); none by default. */
  metrics?: Libp2pOptions['metrics']
}

export type DriaHost = Libp2p<{ dht: KadDHT, identify: Identify, identifyPush: IdentifyPush, ping: Ping }>

function listenAddress (host: string, port: number): string {
  return `/${isIPv6(host) ? 'ip6' : 'ip4'}/${host}/tcp/${port}`
}

/**
 * A started libp2p host for the Dria network: TCP + noise + yamux, identify, ping and a
 * Kademlia DHT on the private Dria protocol that stores only verified capacity records.
 */
export async function createDriaHost (init: DriaHostInit = {}): Promise<DriaHost> {
  const bootstrapList = init.bootstrap ?? []
  const host: DriaHost = await createLibp2p({
    privateKey: init.privateKey,
    addresses: {
      listen: [listenAddress(init.listenHost ?? DEFAULT_LISTEN_HOST, init.listenPort ?? 0)],
      announce: init.announce
    },
    metrics: init.metrics,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: YAMUX_MAX_EARLY_STREAMS })],
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND,
      dialTimeout: DIAL_TIMEOUT_MS,
      reconnectRetries: BOOTSTRAP_RECONNECT_RETRIES,
      reconnectRetryInterval: BOOTSTRAP_RECONNECT_INTERVAL_MS,
      reconnectBackoffFactor: BOOTSTRAP_RECONNECT_FACTOR
    },
    connectionMonitor: { pingTimeout: { minTimeout: CONNECTION_PING_TIMEOUT_MS } },
    peerDiscovery: bootstrapList.length > 0
      ? [bootstrapDiscovery({ list: bootstrapList, timeout: BOOTSTRAP_DIAL_DELAY_MS })]
      : [],
    services: {
      identify: identify(),
      // Protocols registered after a connection opened (a node's task handler comes up after
      // it dialled its bootstrap peers) reach the peer at once, not at the next identify.
      identifyPush: identifyPush(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // Nodes run on LAN/loopback addresses too: without these three settings lookups
        // between them wait forever instead of failing.
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        initialQuerySelfInterval: 0,
        validators: { [CAPACITY_RECORD_NAMESPACE]: capacityRecordValidator },
        selectors: { [CAPACITY_RECORD_NAMESPACE]: capacityRecordSelector }
      })
    }
  })
  await keepConnected(host, bootstrapList)
  return host
}

/** Tags bootstrap peers keep-alive so libp2p redials them whenever the connection drops. */
async function keepConnected (host: DriaHost, addresses: string[]): Promise<void> {
  for (const address of addresses) {
    const ma = multiaddr(address)
    const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
    if (id === undefined) continue
    await host.peerStore.merge(peerIdFromString(id), { multiaddrs: [ma], tags: { [KEEP_ALIVE]: { value: 1 } } })
  }
}
