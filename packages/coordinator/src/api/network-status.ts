import { modelKindName } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import type { EventBus } from '../events/index.js'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { NetworkView, NodeSession } from '../network/index.js'
import type { Scheduler } from '../scheduler/index.js'
import type { Trust, TrustLevel } from '../trust/index.js'
import type { BatchRecord, BatchStatus, TaskRow } from '../store/index.js'
import {
  DEFAULT_HISTORY_INTERVAL_MS, DEFAULT_HISTORY_POINTS, DEFAULT_RATE_WINDOW_SECONDS, MAX_TRACKED_PEERS
} from './constants.js'
import { RateWindow } from './rate-window.js'

/**
 * The one place where coordinator internals become the public network JSON
 * (`/api/v0/network/nodes`, `/api/v0/network/stats`, the event stream, `/metrics` gauges).
 * Fields the coordinator cannot know yet are null or 0, never guessed.
 */

export type { TrustLevel }
export const TRUST_LEVELS: readonly TrustLevel[] = ['new', 'trusted', 'allowlisted', 'quarantined']

export interface NodeStatus {
  peer_id: string
  engine: string
  version: string
  multiaddrs: string[]
  /**
   * `tokens_per_second`: the node's own benchmark of one sequence, as it advertises it;
   * `accepted`: whether its digest is one the coordinator accepts for the name (else it gets no work for it).
   */
  models: Array<{ name: string, digest: string, kind: string, tokens_per_second: number, context_length: number, capabilities: string[], accepted: boolean }>
  /**
   * `advertised`: slots the node said it has in its session; `queue_depth`: tasks it accepts ahead
   * of them; `window`: tasks it has earned to hold at once (grows with answers, halves on timeouts);
   * `in_flight`: this coordinator's tasks on it.
   */
  slots: { advertised: number, queue_depth: number, window: number, in_flight: number }
  /** When its current session opened (unix seconds). */
  connected_since: number | null
  uptime_seconds: number | null
  /** Measured here: verified output over the last `window_seconds`. */
  throughput: { tokens_per_second: number, tasks_per_second: number, window_seconds: number }
  /** Kept per identity across restarts; `reason` says why it is at its level (a quarantine's cause). */
  trust: { level: TrustLevel, reason: string | null, since: number | null }
  /** Its verdicts (as a verifier) the majority overruled. */
  strikes: number
  /**
   * Results accepted from it, all time (the basis of rewards): `tasks`, `tokens` (prompt +
   * completion); `audited`: results of it that other nodes checked and passed.
   */
  verified: { tasks: number, tokens: number, audited: number }
  /** Its results checked by other nodes, by outcome. */
  checks: { passed: number, failed: number }
  /** Round trip of its last ping, ms. */
  rtt_ms: number
}

export interface ModelStatus {
  name: string
  kind: string
  nodes: number
  digests: string[]
  slots: { advertised: number, in_flight: number }
  /** Sum of the serving nodes' advertised single-sequence speed. */
  tokens_per_second: number
  /** Unfinished lines of running single-model batches for this model. */
  queue_depth: number
}

export interface QueueDepth {
  depth: number
  by_model: Record<string, number>
  /** Unfinished lines of running batches that mix models (not split per model yet). */
  unattributed: number
}

/** One `history` point: what happened during `interval_seconds` up to `at`. */
export interface HistoryPoint {
  at: number
  /** Results accepted (verified). */
  tasks: number
  /** Lines that failed for good. */
  failed: number
  input_tokens: number
  output_tokens: number
  /** Results verification refused; null without metrics. */
  refused: number | null
  audits_agreed: number | null
  audits_caught: number | null
  audits_inconclusive: number | null
}

export interface NetworkStats {
  object: 'network.stats'
  at: number
  started_at: number
  nodes: { live: number, by_trust: Record<TrustLevel, number> }
  slots: { advertised: number, in_flight: number }
  models: ModelStatus[]
  queue: QueueDepth
  /** Unfinished batches by status. */
  batches: Record<'validating' | 'in_progress' | 'finalizing' | 'cancelling', number>
  throughput: { window_seconds: number, tasks_per_second: number, tokens_per_second: number }
  /** Since `started_at`. */
  totals: { tasks: number, failed: number, input_tokens: number, output_tokens: number }
  /** Since `started_at`; null where the coordinator runs without metrics. */
  verification: { accepted: number, refused: number | null, audits: Record<'agreed' | 'caught' | 'inconclusive' | 'skipped', number> | null }
  history?: { interval_seconds: number, points: HistoryPoint[] }
}

export interface NetworkStatusComponents {
  host: DriaHost
  network: NetworkView
  trust: Trust
  scheduler: Pick<Scheduler, 'onSettled'>
  bus: EventBus
  metrics: CoordinatorMetrics | null
}

export interface NetworkStatusInit {
  /** One history point per interval. Default 5 s. */
  historyIntervalMs?: number
  /** History points kept. Default 360 (30 min at 5 s). */
  historyPoints?: number
  /** Window of the measured rates. Default 60 s. */
  rateWindowSeconds?: number
}

export interface NetworkStatus {
  start(): void
  stop(): void
  nodes(): NodeStatus[]
  stats(options?: { history?: boolean }): Promise<NetworkStats>
  nodesByTrust(): Record<TrustLevel, number>
  queue(): QueueDepth
}

/** What this coordinator measured of a node since it started: its recent throughput. */
interface PeerTally {
  tokenRate: RateWindow
  taskRate: RateWindow
}

interface Totals {
  tasks: number
  failed: number
  inputTokens: number
  outputTokens: number
  refused: number | null
  audits: Record<'agreed' | 'caught' | 'inconclusive' | 'skipped', number> | null
}

const UNFINISHED: ReadonlySet<BatchStatus> = new Set(['validating', 'in_progress', 'finalizing', 'cancelling'])
const seconds = (ms: number): number => Math.floor(ms / 1000)

export function createNetworkStatus (components: NetworkStatusComponents, init: NetworkStatusInit = {}): NetworkStatus {
  const { host, network, trust, bus, metrics } = components
  const historyMs = init.historyIntervalMs ?? DEFAULT_HISTORY_INTERVAL_MS
  const historyPoints = init.historyPoints ?? DEFAULT_HISTORY_POINTS
  const windowSeconds = init.rateWindowSeconds ?? DEFAULT_RATE_WINDOW_SECONDS
  const startedAt = Date.now()
  const tallies = new Map<string, PeerTally>()
  const unfinished = new Map<string, BatchRecord>()
  const history: HistoryPoint[] = []
  const tokenRate = new RateWindow(windowSeconds)
  const taskRate = new RateWindow(windowSeconds)
  const totals: Totals = { tasks: 0, failed: 0, inputTokens: 0, outputTokens: 0, refused: null, audits: null }
  let sampled: Totals = { ...totals }
  let liveIds = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let unsubscribe: (() => void) | undefined

  function tally (peerId: string): PeerTally {
    let entry = tallies.get(peerId)
    if (entry === undefined) {
      if (tallies.size >= MAX_TRACKED_PEERS) prune()
      entry = { tokenRate: new RateWindow(windowSeconds), taskRate: new RateWindow(windowSeconds) }
      tallies.set(peerId, entry)
    }
    return entry
  }

  /** Forgets the tallies of nodes no longer connected (a flood of short-lived identities must not grow memory). */
  function prune (): void {
    for (const id of tallies.keys()) if (!liveIds.has(id)) tallies.delete(id)
  }

  function onSettled (row: TaskRow): void {
    if (row.state !== 'completed' || row.outcome === undefined) {
      totals.failed++
      return
    }
    const { peer, promptTokens, completionTokens } = row.outcome
    totals.tasks++
    totals.inputTokens += promptTokens
    totals.outputTokens += completionTokens
    tokenRate.add(completionTokens)
    taskRate.add(1)
    const entry = tally(peer)
    entry.tokenRate.add(completionTokens)
    entry.taskRate.add(1)
  }

  function addressesOf (session: NodeSession): string[] {
    return host.getConnections(session.peerId).map(c => c.remoteAddr.toString())
  }

  function nodes (): NodeStatus[] {
    const now = Date.now()
    const list: NodeStatus[] = []
    for (const session of network.sessions()) {
      const tallied = tallies.get(session.id)
      const known = trust.status(session.id)
      list.push({
        peer_id: session.id,
        engine: session.hello.engine,
        version: session.hello.agent,
        multiaddrs: addressesOf(session),
        models: [...session.models.values()].map(m => ({
          name: m.name,
          digest: m.digest,
          kind: modelKindName(m.kind),
          tokens_per_second: Math.round(m.tokensPerSecond),
          context_length: m.contextLength,
          capabilities: m.capabilities,
          accepted: network.admits(session, m.name)
        })),
        slots: { advertised: session.hello.slots, queue_depth: session.hello.queueDepth, window: session.capacity.limit, in_flight: session.outstanding },
        connected_since: seconds(session.openedAt),
        uptime_seconds: seconds(now - session.openedAt),
        throughput: {
          tokens_per_second: round(tallied?.tokenRate.perSecond() ?? 0),
          tasks_per_second: round(tallied?.taskRate.perSecond() ?? 0),
          window_seconds: windowSeconds
        },
        trust: { level: known.level, reason: known.reason ?? null, since: seconds(known.since) },
        strikes: known.strikes,
        verified: { tasks: known.served.tasks, tokens: known.served.tokens, audited: known.checks.passed },
        checks: known.checks,
        rtt_ms: session.rttMs
      })
    }
    return list.sort((a, b) => a.peer_id.localeCompare(b.peer_id))
  }

  function countByTrust (list: NodeStatus[]): Record<TrustLevel, number> {
    const counts = Object.fromEntries(TRUST_LEVELS.map(level => [level, 0])) as Record<TrustLevel, number>
    for (const node of list) counts[node.trust.level]++
    return counts
  }

  function queue (): QueueDepth {
    const byModel: Record<string, number> = {}
    let depth = 0
    let unattributed = 0
    for (const batch of unfinished.values()) {
      if (batch.status !== 'in_progress') continue
      const { total, completed, failed } = batch.request_counts
      const remaining = Math.max(0, total - completed - failed)
      depth += remaining
      if (batch.models.length === 1) byModel[batch.models[0]] = (byModel[batch.models[0]] ?? 0) + remaining
      else unattributed += remaining
    }
    return { depth, by_model: byModel, unattributed }
  }

  function models (list: NodeStatus[], depth: QueueDepth): ModelStatus[] {
    const byName = new Map<string, ModelStatus>()
    for (const node of list) {
      if (node.trust.level === 'quarantined') continue
      for (const m of node.models) {
        if (!m.accepted) continue
        const entry = byName.get(m.name) ?? { name: m.name, kind: m.kind, nodes: 0, digests: [], slots: { advertised: 0, in_flight: 0 }, tokens_per_second: 0, queue_depth: depth.by_model[m.name] ?? 0 }
        entry.nodes++
        if (!entry.digests.includes(m.digest)) entry.digests.push(m.digest)
        // A node's slots are shared by all its models: each model can use all of them.
        entry.slots.advertised += node.slots.advertised
        entry.slots.in_flight += node.slots.in_flight
        entry.tokens_per_second += m.tokens_per_second
        byName.set(m.name, entry)
      }
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Reads the verification counters the scheduler and the auditor keep in the metrics registry. */
  async function readVerification (): Promise<void> {
    if (metrics === null) return
    const [failures, audits] = await Promise.all([metrics.verificationFailures.get(), metrics.audits.get()])
    totals.refused = failures.values.reduce((sum, v) => sum + v.value, 0)
    const byResult = { agreed: 0, caught: 0, inconclusive: 0, skipped: 0 }
    for (const v of audits.values) {
      const result = v.labels.result as keyof typeof byResult
      if (result in byResult) byResult[result] += v.value
    }
    totals.audits = byResult
  }

  async function sample (): Promise<void> {
    await readVerification()
    const delta = (now: number | null, before: number | null): number | null => now === null ? null : now - (before ?? 0)
    const point: HistoryPoint = {
      at: seconds(Date.now()),
      tasks: totals.tasks - sampled.tasks,
      failed: totals.failed - sampled.failed,
      input_tokens: totals.inputTokens - sampled.inputTokens,
      output_tokens: totals.outputTokens - sampled.outputTokens,
      refused: delta(totals.refused, sampled.refused),
      audits_agreed: delta(totals.audits?.agreed ?? null, sampled.audits?.agreed ?? null),
      audits_caught: delta(totals.audits?.caught ?? null, sampled.audits?.caught ?? null),
      audits_inconclusive: delta(totals.audits?.inconclusive ?? null, sampled.audits?.inconclusive ?? null)
    }
    sampled = { ...totals, audits: totals.audits === null ? null : { ...totals.audits } }
    history.push(point)
    if (history.length > historyPoints) history.shift()
    bus.publish({ type: 'network.sample', point })
  }

  /** Announces nodes that came or went since the last change of the network view. */
  function diffNodes (): void {
    const ids = new Set(nodes().map(n => n.peer_id))
    for (const id of ids) if (!liveIds.has(id)) bus.publish({ type: 'node.joined', peerId: id })
    for (const id of liveIds) if (!ids.has(id)) bus.publish({ type: 'node.left', peerId: id })
    liveIds = ids
  }

  components.scheduler.onSettled(onSettled)
  network.onChange(diffNodes)
  trust.onQuarantine(peerId => {
    bus.publish({ type: 'node.quarantined', peerId, reason: trust.status(peerId).reason ?? 'quarantined' })
  })

  return {
    start () {
      unsubscribe = bus.subscribe(event => {
        if (event.type !== 'batch.updated') return
        if (UNFINISHED.has(event.batch.status)) unfinished.set(event.batch.id, event.batch)
        else unfinished.delete(event.batch.id)
      })
      timer = setInterval(() => { void sample().catch(() => {}) }, historyMs)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
      unsubscribe?.()
    },
    nodes,
    async stats (options = {}) {
      await readVerification()
      const list = nodes()
      const depth = queue()
      const batches = { validating: 0, in_progress: 0, finalizing: 0, cancelling: 0 }
      for (const batch of unfinished.values()) {
        if (batch.status in batches) batches[batch.status as keyof typeof batches]++
      }
      const stats: NetworkStats = {
        object: 'network.stats',
        at: seconds(Date.now()),
        started_at: seconds(startedAt),
        nodes: { live: list.length, by_trust: countByTrust(list) },
        slots: {
          advertised: list.reduce((sum, n) => sum + n.slots.advertised, 0),
          in_flight: list.reduce((sum, n) => sum + n.slots.in_flight, 0)
        },
        models: models(list, depth),
        queue: depth,
        batches,
        throughput: { window_seconds: windowSeconds, tasks_per_second: round(taskRate.perSecond()), tokens_per_second: round(tokenRate.perSecond()) },
        totals: { tasks: totals.tasks, failed: totals.failed, input_tokens: totals.inputTokens, output_tokens: totals.outputTokens },
        verification: { accepted: totals.tasks, refused: totals.refused, audits: totals.audits === null ? null : { ...totals.audits } }
      }
      if (options.history === true) stats.history = { interval_seconds: historyMs / 1000, points: [...history] }
      return stats
    },
    nodesByTrust: () => countByTrust(nodes()),
    queue
  }
}

function round (value: number): number {
  return Math.round(value * 100) / 100
}
