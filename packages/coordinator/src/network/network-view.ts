import { PROTOCOL_VERSION, SESSION_PROTOCOL, SESSION_VERSIONS, isDriaError, modelKindName } from '@dria/protocol'
import { openSession } from '@dria/p2p'
import type { Hello, Logger } from '@dria/protocol'
import type { Discovery, DriaHost } from '@dria/p2p'
import type { IdentifyResult, PeerId, PeerUpdate } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_MODEL_GRACE_MS, DEFAULT_NETWORK_REFRESH_MS, DEFAULT_REDIAL_BACKOFF_MS, MAX_REDIAL_BACKOFF_MS, SESSION_OPEN_CONCURRENCY
} from '../constants.js'
import type { PeerBook } from '../store/index.js'
import { createNodeSession } from './node-session.js'
import type { NodeSession, NodeSessionInit } from './node-session.js'

const REDIAL_TIMEOUT_MS = 3_000

export interface NetworkModel {
  name: string
  kind: 'chat' | 'embedding'
  /** Live nodes serving it (with a digest the coordinator accepts). */
  nodes: number
  digests: string[]
  capabilities: string[]
}

export interface NetworkViewComponents {
  host: DriaHost
  discovery: Discovery
  peers: PeerBook
  logger: Logger
  /** Peers that must get no session at all (quarantined). Default: none. */
  isBarred?: (peerId: string) => boolean
  /** Whether `session` may serve `model` (e.g. its digest is accepted). Default: always. */
  admits?: (session: NodeSession, model: string) => boolean
}

export interface NetworkViewInit {
  /** How often providers of wanted models are looked up. Default 5 s. */
  refreshIntervalMs?: number
  /** First wait before redialling a peer whose session failed or ended; doubles to 60 s. Default 1 s. */
  redialBackoffMs?: number
  /** Session timings (pings, acks). */
  session?: NodeSessionInit
  /** How long a model still counts as served after its last node left (`servedModels`). Default 10 min. */
  modelGraceMs?: number
}

export interface NetworkView {
  start(): Promise<void>
  stop(): void
  /** Looks for providers of wanted models now and opens sessions to new ones. */
  refresh(): Promise<void>
  /** Every open session. */
  sessions(): NodeSession[]
  session(peerId: string): NodeSession | undefined
  /** Open sessions that may serve `model`. */
  sessionsFor(model: string): NodeSession[]
  /** Whether `session` may serve `model` (it serves it with accepted weights and is not barred). */
  admits(session: NodeSession, model: string): boolean
  models(): NetworkModel[]
  /**
   * Names of the models batches may ask for: those live nodes serve, and those a node served
   * within the grace period. A batch submitted while nodes reconnect (a restart, a stall) waits
   * for them instead of failing with `model_not_found`.
   */
  servedModels(): string[]
  isModelServed(model: string): boolean
  /** Models to look up providers for on every refresh. */
  want(model: string): void
  /** The node refused a model it advertised: it gets no more tasks for it in this session. */
  dropModel(session: NodeSession, model: string): void
  /** Ends a peer's session (e.g. it was quarantined). */
  disconnect(peerId: string, reason: Error): void
  /** Called after any change that may let more work be dispatched. */
  onChange(listener: () => void): void
  /** Called with each session once open. */
  onSession(listener: (session: NodeSession) => void): void
}

interface Backoff { until: number, delayMs: number }

/**
 * The coordinator's live picture of the network: one session per node. A node receives work
 * only while its session is open: the DHT only says whom to dial (provider records, the peer
 * book, peers that connect to us), never who is alive, so a lookup that hangs on a frozen
 * peer, a stale provider record or a record from the future cannot add or remove anyone.
 */
export function createNetworkView (components: NetworkViewComponents, init: NetworkViewInit = {}): NetworkView {
  const { host, discovery, peers: peerBook } = components
  const log = components.logger.child({ module: 'network' })
  const isBarred = components.isBarred ?? (() => false)
  const admits = components.admits ?? (() => true)
  const refreshMs = init.refreshIntervalMs ?? DEFAULT_NETWORK_REFRESH_MS
  const firstBackoffMs = init.redialBackoffMs ?? DEFAULT_REDIAL_BACKOFF_MS
  const modelGraceMs = init.modelGraceMs ?? DEFAULT_MODEL_GRACE_MS
  /** When each model's last admitted node left. */
  const lastServed = new Map<string, number>()
  const open = new Map<string, NodeSession>()
  const opening = new Set<string>()
  const backoff = new Map<string, Backoff>()
  const waiting: PeerId[] = []
  const wanted = new Set<string>()
  const listeners: Array<() => void> = []
  const sessionListeners: Array<(session: NodeSession) => void> = []
  const mismatchLogged = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let refreshing: Promise<void> | undefined

  const changed = (): void => { listeners.forEach(listener => { listener() }) }

  const hello: Hello = {
    versions: [...SESSION_VERSIONS],
    agent: `dria-coordinator/${PROTOCOL_VERSION}`,
    slots: 0,
    queueDepth: 0,
    engine: '',
    models: []
  }

  function backOff (id: string): void {
    const delayMs = Math.min(MAX_REDIAL_BACKOFF_MS, (backoff.get(id)?.delayMs ?? firstBackoffMs / 2) * 2)
    backoff.set(id, { until: Date.now() + delayMs, delayMs })
  }

  /** Opens a session to `peerId` unless it has one, is being dialled, is barred or backed off. */
  function ensureSession (peerId: PeerId): void {
    const id = peerId.toString()
    if (stopped || id === host.peerId.toString() || open.has(id) || opening.has(id) || isBarred(id)) return
    if ((backoff.get(id)?.until ?? 0) > Date.now()) return
    if (opening.size >= SESSION_OPEN_CONCURRENCY) {
      if (!waiting.some(p => p.equals(peerId))) waiting.push(peerId)
      return
    }
    opening.add(id)
    void connect(peerId).finally(() => {
      opening.delete(id)
      const next = waiting.shift()
      if (next !== undefined) ensureSession(next)
    })
  }

  async function connect (peerId: PeerId): Promise<void> {
    const id = peerId.toString()
    let session: NodeSession
    try {
      session = createNodeSession(await openSession(host, peerId, { hello }), init.session)
    } catch (err) {
      backOff(id)
      if (isDriaError(err, 'SESSION_PROTOCOL_MISMATCH') || isDriaError(err, 'SESSION_VERSION_MISMATCH')) {
        if (!mismatchLogged.has(id)) log.warn({ peer: id, code: (err as Error & { code: string }).code, reason: (err as Error).message }, 'node speaks an incompatible protocol version')
        mismatchLogged.add(id)
      } else {
        log.debug({ peer: id, err }, 'session not opened')
      }
      return
    }
    if (stopped || isBarred(id)) {
      session.close()
      return
    }
    open.set(id, session)
    log.info({ peer: id, agent: session.hello.agent, version: session.version, models: [...session.models.keys()], slots: session.hello.slots, queueDepth: session.hello.queueDepth }, 'node joined')
    session.onClose(err => {
      if (open.get(id) !== session) return
      if (!isBarred(id)) for (const model of session.models.keys()) if (admits(session, model)) lastServed.set(model, Date.now())
      open.delete(id)
      // A session that did work starts its peer's backoff over; one that answered nothing
      // (a black hole, a peer that hangs up at once) makes the next wait longer.
      if (session.answered > 0) backoff.delete(id)
      backOff(id)
      log.info({ peer: id, reason: err?.message ?? 'closed' }, 'node gone')
      changed()
    })
    const addresses = await host.peerStore.get(peerId).then(p => p.addresses.map(a => a.multiaddr.toString()), () => [])
    if (addresses.length > 0) await peerBook.remember({ id, multiaddrs: addresses }).catch(err => { log.warn({ err }, 'peer not remembered') })
    sessionListeners.forEach(listener => { listener(session) })
    changed()
  }

  async function refreshOnce (): Promise<void> {
    // Peers already connected that speak the session protocol (nodes bootstrap to us).
    for (const connection of host.getConnections()) {
      const protocols = await host.peerStore.get(connection.remotePeer).then(p => p.protocols, (): string[] => [])
      if (protocols.includes(SESSION_PROTOCOL)) ensureSession(connection.remotePeer)
    }
    await Promise.allSettled([...wanted].map(async model => {
      for (const peerId of await discovery.findProviders(model, { signal: AbortSignal.timeout(refreshMs), limit: 64 })) ensureSession(peerId)
    }))
  }

  function refresh (): Promise<void> {
    refreshing ??= refreshOnce()
      .catch(err => { log.warn({ err }, 'network refresh failed') })
      .finally(() => { refreshing = undefined })
    return refreshing
  }

  /** Redials the nodes known before a restart, so work resumes before they find us again. */
  async function redialKnownPeers (): Promise<void> {
    const known = (await peerBook.all()).filter(peer => !isBarred(peer.id))
    await Promise.allSettled(known.map(async ({ id, multiaddrs }) => {
      const peerId = peerIdFromString(id)
      await host.peerStore.merge(peerId, { multiaddrs: multiaddrs.map(ma => multiaddr(ma)) })
      await host.dial(peerId, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) })
      ensureSession(peerId)
    }))
  }

  const onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    if (event.detail.protocols.includes(SESSION_PROTOCOL)) ensureSession(event.detail.peerId)
  }
  // A node that registered its handler after connecting says so with an identify push.
  const onPeerUpdate = (event: CustomEvent<PeerUpdate>): void => {
    const { peer, previous } = event.detail
    if (peer.protocols.includes(SESSION_PROTOCOL) && previous?.protocols.includes(SESSION_PROTOCOL) !== true) ensureSession(peer.id)
  }

  function sessionsFor (model: string): NodeSession[] {
    const found: NodeSession[] = []
    for (const session of open.values()) {
      if (session.models.has(model) && !isBarred(session.id) && admits(session, model)) found.push(session)
    }
    return found
  }

  return {
    async start () {
      host.addEventListener('peer:identify', onIdentify)
      host.addEventListener('peer:update', onPeerUpdate)
      timer = setInterval(() => { void refresh() }, refreshMs)
      timer.unref()
      await redialKnownPeers()
      await refresh()
    },
    stop () {
      stopped = true
      clearInterval(timer)
      host.removeEventListener('peer:identify', onIdentify)
      host.removeEventListener('peer:update', onPeerUpdate)
      for (const session of open.values()) session.close()
      open.clear()
    },
    refresh,
    sessions: () => [...open.values()],
    session: peerId => open.get(peerId),
    sessionsFor,
    admits: (session, model) => session.models.has(model) && !isBarred(session.id) && admits(session, model),
    models () {
      const byName = new Map<string, NetworkModel>()
      for (const session of open.values()) {
        for (const m of session.models.values()) {
          if (!admits(session, m.name)) continue
          const entry = byName.get(m.name) ?? { name: m.name, kind: modelKindName(m.kind), nodes: 0, digests: [], capabilities: [] }
          entry.nodes++
          if (!entry.digests.includes(m.digest)) entry.digests.push(m.digest)
          for (const capability of m.capabilities) if (!entry.capabilities.includes(capability)) entry.capabilities.push(capability)
          byName.set(m.name, entry)
        }
      }
      return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
    },
    servedModels () {
      const names = new Set(this.models().map(m => m.name))
      const since = Date.now() - modelGraceMs
      for (const [model, at] of lastServed) {
        if (at >= since) names.add(model)
        else lastServed.delete(model)
      }
      return [...names].sort()
    },
    isModelServed: model => sessionsFor(model).length > 0,
    want (model) {
      if (wanted.has(model)) return
      wanted.add(model)
      void refresh()
    },
    dropModel (session, model) {
      if (!session.models.delete(model)) return
      log.info({ peer: session.id, model }, 'node no longer serves model')
      changed()
    },
    disconnect (peerId, reason) {
      open.get(peerId)?.close(reason)
    },
    onChange (listener) {
      listeners.push(listener)
    },
    onSession (listener) {
      sessionListeners.push(listener)
    }
  }
}
