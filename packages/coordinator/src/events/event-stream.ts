import type { ServerResponse } from 'node:http'
import type { Logger } from '@dria/protocol'
import { LimitError } from '../errors.js'
import { toBatchObject } from '../batches/index.js'
import type { BatchRecord } from '../store/index.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import {
  DEFAULT_COALESCE_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_STREAMS, DEFAULT_NETWORK_INTERVAL_MS, RECONNECT_MS
} from './constants.js'
import type { EventBus } from './event-bus.js'
import type { CoordinatorEvent } from './types.js'

/** Who is listening: `owner` (an API key's id) also receives that key's batch events. */
export interface Viewer {
  owner?: string
}

/** The public network view, as `/api/v0/network/stats` and `/api/v0/network/nodes` return it. */
export interface NetworkSnapshot {
  stats: unknown
  nodes: unknown[]
}

export interface EventStreamComponents {
  bus: EventBus
  /** Read once per interval while anyone listens, serialized once for every client. */
  networkSnapshot: () => Promise<NetworkSnapshot>
  logger: Logger
  metrics: CoordinatorMetrics | null
}

export interface EventStreamInit {
  /** Changes to one batch within this window are sent as one event. Default 250 ms. */
  coalesceMs?: number
  /** How often `network.stats` is sent (and `network.nodes` when it changed). Default 1000 ms. */
  networkIntervalMs?: number
  /** Comment line that keeps idle streams open. Default 15 s. */
  heartbeatMs?: number
  /** Most streams open at once. Default 1000. */
  maxStreams?: number
  /** Unsent bytes after which a slow client is disconnected. Default 4 MiB. */
  maxBufferedBytes?: number
}

export interface EventStream {
  /**
   * Takes over `response` and sends it Server-Sent Events until the client leaves or the
   * stream stops. Throws a `too_many_streams` LimitError when full.
   */
  attach(response: ServerResponse, viewer: Viewer): void
  /** Streams open now. */
  clients(): number
  start(): void
  /** Ends every stream. */
  stop(): void
}

interface Client {
  response: ServerResponse
  owner?: string
}

/**
 * Fans coordinator events out to Server-Sent Events clients. Every event is serialized once,
 * whatever the number of clients; batch changes are merged per batch over `coalesceMs` and
 * each client gets one socket write per flush.
 */
export function createEventStream (components: EventStreamComponents, init: EventStreamInit = {}): EventStream {
  const { bus, metrics } = components
  const log = components.logger.child({ module: 'events' })
  const coalesceMs = init.coalesceMs ?? DEFAULT_COALESCE_MS
  const networkMs = init.networkIntervalMs ?? DEFAULT_NETWORK_INTERVAL_MS
  const heartbeatMs = init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  const maxStreams = init.maxStreams ?? DEFAULT_MAX_STREAMS
  const maxBuffered = init.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  const clients = new Set<Client>()
  /** Batches changed since the last flush, with the time of their first change. */
  const dirty = new Map<string, { batch: BatchRecord, at: number }>()
  let publicFrames: string[] = []
  let sequence = 0
  let lastStats: string | undefined
  let lastNodes: string | undefined
  let snapshotting: Promise<void> | undefined
  const timers: NodeJS.Timeout[] = []
  let unsubscribe: (() => void) | undefined

  function frame (type: string, at: number, data: string): string {
    return `id: ${++sequence}\nevent: ${type}\ndata: {"type":"${type}","at":${at},"data":${data}}\n\n`
  }

  function write (client: Client, chunk: string): void {
    const { response } = client
    if (response.destroyed) return
    response.write(chunk)
    if (response.writableLength > maxBuffered) {
      log.warn({ buffered: response.writableLength }, 'event client too slow: disconnected')
      metrics?.eventClientsDropped.inc()
      response.destroy()
    }
  }

  function onEvent (event: CoordinatorEvent): void {
    if (clients.size === 0) return
    const at = Date.now()
    switch (event.type) {
      case 'batch.updated':
        if (!dirty.has(event.batch.id)) dirty.set(event.batch.id, { batch: event.batch, at })
        return
      case 'node.joined':
      case 'node.left':
        publicFrames.push(frame(event.type, at, JSON.stringify({ peer_id: event.peerId })))
        return
      case 'node.quarantined':
        publicFrames.push(frame(event.type, at, JSON.stringify({ peer_id: event.peerId, reason: event.reason })))
        return
      case 'network.sample':
        publicFrames.push(frame(event.type, at, JSON.stringify(event.point)))
    }
  }

  function flush (): void {
    if (dirty.size === 0 && publicFrames.length === 0) return
    const shared = publicFrames.join('')
    publicFrames = []
    const byOwner = new Map<string, string>()
    for (const { batch, at } of dirty.values()) {
      byOwner.set(batch.owner, (byOwner.get(batch.owner) ?? '') + frame('batch.updated', at, JSON.stringify(toBatchObject(batch))))
    }
    dirty.clear()
    for (const client of clients) {
      const own = client.owner === undefined ? '' : byOwner.get(client.owner) ?? ''
      if (shared.length + own.length > 0) write(client, shared + own)
    }
  }

  /** Reads the network view once and sends it to everyone (the node list only when it changed). */
  async function sendNetwork (): Promise<void> {
    if (clients.size === 0) return
    const snapshot = await components.networkSnapshot()
    const at = Date.now()
    lastStats = JSON.stringify(snapshot.stats)
    const nodes = JSON.stringify(snapshot.nodes)
    const nodesChanged = nodes !== lastNodes
    lastNodes = nodes
    publicFrames.push(frame('network.stats', at, lastStats))
    if (nodesChanged) publicFrames.push(frame('network.nodes', at, nodes))
    flush()
  }

  function tickNetwork (): void {
    snapshotting ??= sendNetwork()
      .catch(err => { log.error({ err }, 'network snapshot failed') })
      .finally(() => { snapshotting = undefined })
  }

  function heartbeat (): void {
    for (const client of clients) write(client, ': ping\n\n')
  }

  return {
    attach (response, viewer) {
      if (clients.size >= maxStreams) throw new LimitError('too_many_streams', `At most ${maxStreams} event streams can be open at once.`, 5)
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no'
      })
      const client: Client = { response, owner: viewer.owner }
      clients.add(client)
      response.on('close', () => {
        clients.delete(client)
        // Nobody listens, so nothing keeps these fresh: the next client must not start from old ones.
        if (clients.size === 0) lastStats = lastNodes = undefined
      })
      const at = Date.now()
      // The latest network view straight away, so a page renders without waiting for a tick.
      let greeting = `retry: ${RECONNECT_MS}\n\n` + frame('hello', at, JSON.stringify({ viewer: viewer.owner === undefined ? 'public' : 'key' }))
      if (lastStats !== undefined) greeting += frame('network.stats', at, lastStats)
      if (lastNodes !== undefined) greeting += frame('network.nodes', at, lastNodes)
      write(client, greeting)
      if (lastStats === undefined) tickNetwork()
    },
    clients: () => clients.size,
    start () {
      unsubscribe = bus.subscribe(onEvent)
      timers.push(setInterval(flush, coalesceMs), setInterval(tickNetwork, networkMs), setInterval(heartbeat, heartbeatMs))
      timers.forEach(timer => timer.unref())
    },
    stop () {
      unsubscribe?.()
      timers.splice(0).forEach(timer => { clearInterval(timer) })
      for (const client of clients) client.response.end()
      clients.clear()
    }
  }
}
