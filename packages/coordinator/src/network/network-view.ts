import { modelKindName } from '@dria/protocol'
import type { CapacityRecord, Logger, ModelCapacity } from '@dria/protocol'
import type { Discovery, DriaHost } from '@dria/p2p'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_NETWORK_REFRESH_MS, DEFAULT_PEER_BACKOFF_MS, DEFAULT_QUARANTINE_STRIKES, DEFAULT_RECORD_STALE_MS } from '../constants.js'
import type { PeerBook } from '../store/index.js'

const REDIAL_TIMEOUT_MS = 3_000

export interface NodePeer {
  peerId: PeerId
  id: string
  record: CapacityRecord
  models: Map<string, ModelCapacity>
  /** Tasks this coordinator has in flight on the peer. */
  inflight: number
  /** Not given work before this time (ms since epoch) after a failure or refusal. */
  backoffUntil: number
  /** Results of this peer that re-execution proved wrong. */
  strikes: number
}

export interface NetworkModel {
  name: string
  kind: 'chat' | 'embedding'
  nodes: number
  digests: string[]
}

export interface NetworkViewInit {
  refreshIntervalMs?: number
  staleAfterMs?: number
  backoffMs?: number
  /** Strikes after which a peer is quarantined: never given work again. Default 3. */
  quarantineStrikes?: number
}

export interface NetworkView {
  start(): Promise<void>
  stop(): void
  /** Runs one discovery round now (also used by tests and the first batch). */
  refresh(): Promise<void>
  /** Live peers serving `model` and not backed off, most free capacity first. */
  peersFor(model: string): NodePeer[]
  peers(): NodePeer[]
  models(): NetworkModel[]
  isModelServed(model: string): boolean
  /** Models to look up through provider records on every refresh. */
  want(model: string): void
  backOff(peer: NodePeer, ms?: number): void
  forgetModel(peer: NodePeer, model: string): void
  /** Records a proven wrong result; enough of them quarantine the peer. */
  strike(peer: NodePeer, reason: string): void
  isQuarantined(peerId: string): boolean
  /** Called with the id of each peer put in quarantine. */
  onQuarantine(listener: (peerId: string) => void): void
  /** Called after any change that may let more work be dispatched. */
  onChange(listener: () => void): void
}

/**
 * The coordinator's picture of the network: which live peers serve which models with how much
 * room. Peers come from provider records of wanted models and from connected peers; their
 * capacity comes from their signed DHT records; liveness from record freshness and connections.
 */
export function createNetworkView (components: { host: DriaHost, discovery: Discovery, peers: PeerBook, logger: Logger }, init: NetworkViewInit = {}): NetworkView {
  const { host, discovery, peers: peerBook } = components
  const log = components.logger.child({ module: 'network' })
  const refreshMs = init.refreshIntervalMs ?? DEFAULT_NETWORK_REFRESH_MS
  const staleMs = init.staleAfterMs ?? DEFAULT_RECORD_STALE_MS
  const backoffMs = init.backoffMs ?? DEFAULT_PEER_BACKOFF_MS
  const quarantineStrikes = init.quarantineStrikes ?? DEFAULT_QUARANTINE_STRIKES
  /** Outlives the peer's entry: a caught peer stays out even after it rejoins. */
  const quarantined = new Set<string>()
  const quarantineListeners: Array<(peerId: string) => void> = []
  const peers = new Map<string, NodePeer>()
  const wanted = new Set<string>()
  const listeners: Array<() => void> = []
  let timer: NodeJS.Timeout | undefined
  let refreshing: Promise<void> | undefined
  let queued: Promise<void> | undefined

  const changed = (): void => { listeners.forEach(listener => { listener() }) }

  async function candidates (): Promise<PeerId[]> {
    const found = new Map<string, PeerId>()
    for (const connection of host.getConnections()) found.set(connection.remotePeer.toString(), connection.remotePeer)
    const lookups = [...wanted].map(async model => {
      const providers = await discovery.findProviders(model, { signal: AbortSignal.timeout(refreshMs), limit: 64 })
      for (const peerId of providers) found.set(peerId.toString(), peerId)
    })
    await Promise.allSettled(lookups)
    return [...found.values()]
  }

  async function updatePeer (peerId: PeerId): Promise<boolean> {
    const id = peerId.toString()
    const record = await discovery.fetchCapacity(peerId, { signal: AbortSignal.timeout(refreshMs) }).catch(() => undefined)
    const existing = peers.get(id)
    if (record === undefined || Date.now() - record.issuedAtMs > staleMs) {
      if (existing !== undefined) {
        peers.delete(id)
        await peerBook.forget(id)
        log.info({ peer: id }, 'node gone: capacity record stale')
        return true
      }
      return false
    }
    if (existing !== undefined && existing.record.seq >= record.seq) return false
    const models = new Map(record.models.map(m => [m.name, m]))
    if (existing === undefined) {
      peers.set(id, { peerId, id, record, models, inflight: 0, backoffUntil: 0, strikes: 0 })
      await peerBook.remember({ id, multiaddrs: record.multiaddrs })
      log.info({ peer: id, models: [...models.keys()], slots: record.slotsTotal }, 'node joined')
    } else {
      // A node restarted on new ports must still be redialled after our own restart.
      if (existing.record.multiaddrs.join() !== record.multiaddrs.join()) await peerBook.remember({ id, multiaddrs: record.multiaddrs })
      existing.record = record
      existing.models = models
    }
    return true
  }

  async function refreshOnce (): Promise<void> {
    const ids = await candidates()
    const known = [...peers.values()].map(p => p.peerId)
    const all = new Map([...known, ...ids].map(p => [p.toString(), p]))
    const updates = await Promise.all([...all.values()].map(updatePeer))
    if (updates.some(Boolean)) changed()
  }

  /** One round at a time; a request during a round gets one more round after it (peers may have joined meanwhile). */
  function refresh (): Promise<void> {
    if (refreshing === undefined) {
      refreshing = refreshOnce().catch(err => { log.warn({ err }, 'network refresh failed') }).finally(() => { refreshing = undefined })
      return refreshing
    }
    queued ??= refreshing.then(async () => {
      queued = undefined
      await refresh()
    })
    return queued
  }

  /** Redials the nodes known before a restart (bounded: dead ones must not delay start-up). */
  async function redialKnownPeers (): Promise<void> {
    const known = (await peerBook.all()).filter(peer => !quarantined.has(peer.id))
    await Promise.allSettled(known.map(async ({ id, multiaddrs }) => {
      const peerId = peerIdFromString(id)
      await host.peerStore.merge(peerId, { multiaddrs: multiaddrs.map(ma => multiaddr(ma)) })
      await host.dial(peerId, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) })
    }))
  }

  const onConnect = (): void => { void refresh() }
  const onDisconnect = (event: CustomEvent<PeerId>): void => {
    const id = event.detail.toString()
    if (peers.delete(id)) {
      log.info({ peer: id }, 'node gone: disconnected')
      changed()
    }
  }

  function live (peer: NodePeer, now: number): boolean {
    return peer.backoffUntil <= now && now - peer.record.issuedAtMs <= staleMs && !quarantined.has(peer.id)
  }

  return {
    async start () {
      host.addEventListener('peer:identify', onConnect)
      host.addEventListener('peer:disconnect', onDisconnect)
      timer = setInterval(() => { void refresh() }, refreshMs)
      timer.unref()
      for (const id of await peerBook.quarantined()) quarantined.add(id)
      await redialKnownPeers()
      await refresh()
    },
    stop () {
      clearInterval(timer)
      host.removeEventListener('peer:identify', onConnect)
      host.removeEventListener('peer:disconnect', onDisconnect)
    },
    refresh,
    peersFor (model) {
      const now = Date.now()
      return [...peers.values()]
        .filter(peer => peer.models.has(model) && live(peer, now))
        .sort((a, b) => (b.record.slotsTotal - b.inflight) - (a.record.slotsTotal - a.inflight))
    },
    peers: () => [...peers.values()],
    models () {
      const now = Date.now()
      const byName = new Map<string, NetworkModel>()
      for (const peer of peers.values()) {
        if (now - peer.record.issuedAtMs > staleMs || quarantined.has(peer.id)) continue
        for (const m of peer.models.values()) {
          const entry = byName.get(m.name) ?? { name: m.name, kind: modelKindName(m.kind), nodes: 0, digests: [] }
          entry.nodes++
          if (!entry.digests.includes(m.digest)) entry.digests.push(m.digest)
          byName.set(m.name, entry)
        }
      }
      return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
    },
    isModelServed (model) {
      return [...peers.values()].some(peer => peer.models.has(model) && !quarantined.has(peer.id))
    },
    want (model) {
      if (wanted.has(model)) return
      wanted.add(model)
      void refresh()
    },
    backOff (peer, ms = backoffMs) {
      peer.backoffUntil = Date.now() + ms
      setTimeout(changed, ms).unref()
    },
    forgetModel (peer, model) {
      peer.models.delete(model)
    },
    strike (peer, reason) {
      peer.strikes++
      log.warn({ peer: peer.id, strikes: peer.strikes, reason }, 'node struck')
      if (peer.strikes < quarantineStrikes || quarantined.has(peer.id)) return
      quarantined.add(peer.id)
      void peerBook.quarantine(peer.id, peer.strikes).catch(err => { log.error({ err }, 'quarantine not persisted') })
      log.warn({ peer: peer.id, strikes: peer.strikes }, 'node quarantined')
      quarantineListeners.forEach(listener => { listener(peer.id) })
    },
    isQuarantined: (peerId) => quarantined.has(peerId),
    onQuarantine (listener) {
      quarantineListeners.push(listener)
    },
    onChange (listener) {
      listeners.push(listener)
    }
  }
}
