import { DriaError } from '@dria/protocol'
import type { DriaHost } from '@dria/p2p'
import type { WorkQueue } from '../tasks/index.js'
import type { ModelEntry } from '../engine/index.js'

export type TrustLevel = 'new' | 'trusted' | 'allowlisted' | 'quarantined'

/** What a coordinator says about this node: the basis of its rewards and of its work. */
export interface CoordinatorReport {
  /** The coordinator's peer id. */
  coordinator: string
  trust: { level: TrustLevel, reason?: string }
  /** Results of this node the coordinator verified and accepted. */
  verified: { tasks: number, tokens: number }
  /** Lines waiting per model on that coordinator. */
  demand: Array<{ model: string, queued: number }>
  /** When the coordinator made the report (ms since the epoch). */
  at: number
}

export type TaskOutcome = { outcome: 'completed', promptTokens: number, completionTokens: number }
  | { outcome: 'failed', code: string }
  | { outcome: 'rejected', code: string }

export interface TaskCounts {
  completed: number
  failed: number
  rejected: number
  failedByCode: Record<string, number>
  rejectedByCode: Record<string, number>
  /** Tokens of completed tasks. */
  promptTokens: number
  completionTokens: number
  lastTaskAt?: number
}

export interface NodeStatusSnapshot {
  peerId: string
  engine: string
  startedAt: number
  uptimeMs: number
  multiaddrs: string[]
  network: {
    connectedPeers: number
    bootstrap: Array<{ address: string, connected: boolean }>
  }
  /** `queued`: tasks accepted and waiting for a slot. */
  slots: { total: number, used: number, queued: number }
  /** Every model found: served (advertised) or not, with why not. */
  models: ModelEntry[]
  tasks: TaskCounts
  /** The latest report of each coordinator; empty until one reports. */
  coordinators: CoordinatorReport[]
}

export interface NodeStatus {
  /** Counts one finished or refused task. */
  recordTask(outcome: TaskOutcome): void
  /** Keeps the newest report per coordinator; throws `COORDINATOR_REPORT_INVALID` for a malformed one. */
  recordCoordinatorReport(report: CoordinatorReport): void
  snapshot(): NodeStatusSnapshot
}

export interface NodeStatusComponents {
  host: DriaHost
  queue: WorkQueue
}

export interface NodeStatusInit {
  engine: string
  models: ModelEntry[]
  bootstrap: string[]
  /** Most coordinators whose reports are kept (default 16): bounds what a peer can make us store. */
  maxCoordinators?: number
}

const TRUST_LEVELS = new Set<string>(['new', 'trusted', 'allowlisted', 'quarantined'])
const MAX_DEMAND_ENTRIES = 256
const MAX_TEXT = 512
const DEFAULT_MAX_COORDINATORS = 16

const count = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0
const text = (value: unknown): boolean => typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT

function invalid (what: string): DriaError {
  return new DriaError('COORDINATOR_REPORT_INVALID', `coordinator report: ${what}`)
}

function checkReport (report: CoordinatorReport): void {
  if (!text(report?.coordinator)) throw invalid('coordinator must be a peer id')
  if (!TRUST_LEVELS.has(report.trust?.level)) throw invalid(`unknown trust level ${String(report.trust?.level)}`)
  if (report.trust.reason !== undefined && typeof report.trust.reason !== 'string') throw invalid('trust.reason must be a string')
  if (!count(report.verified?.tasks) || !count(report.verified?.tokens)) throw invalid('verified tasks and tokens must be counts')
  if (!Array.isArray(report.demand) || report.demand.length > MAX_DEMAND_ENTRIES) throw invalid(`demand must be a list of at most ${MAX_DEMAND_ENTRIES}`)
  for (const entry of report.demand) if (!text(entry?.model) || !count(entry.queued)) throw invalid('each demand entry needs a model and a queued count')
  if (!count(report.at)) throw invalid('at must be a timestamp')
}

const bump = (counts: Record<string, number>, code: string): void => { counts[code] = (counts[code] ?? 0) + 1 }

/** The node's own view of itself, plus what coordinators report about it: what `dria-node status` shows. */
export function createNodeStatus (components: NodeStatusComponents, init: NodeStatusInit): NodeStatus {
  const { host, queue } = components
  const startedAt = Date.now()
  const maxCoordinators = init.maxCoordinators ?? DEFAULT_MAX_COORDINATORS
  const reports = new Map<string, CoordinatorReport>()
  const tasks: TaskCounts = { completed: 0, failed: 0, rejected: 0, failedByCode: {}, rejectedByCode: {}, promptTokens: 0, completionTokens: 0 }
  const bootstrapPeer = (address: string): string | undefined => address.split('/p2p/').at(-1)

  return {
    recordTask (outcome) {
      tasks.lastTaskAt = Date.now()
      switch (outcome.outcome) {
        case 'completed':
          tasks.completed++
          tasks.promptTokens += outcome.promptTokens
          tasks.completionTokens += outcome.completionTokens
          break
        case 'failed':
          tasks.failed++
          bump(tasks.failedByCode, outcome.code)
          break
        case 'rejected':
          tasks.rejected++
          bump(tasks.rejectedByCode, outcome.code)
      }
    },
    recordCoordinatorReport (report) {
      checkReport(report)
      const previous = reports.get(report.coordinator)
      if (previous !== undefined && previous.at > report.at) return
      if (previous === undefined && reports.size >= maxCoordinators) {
        // Keep the freshest: drop the stalest report to make room.
        const stalest = [...reports.values()].sort((a, b) => a.at - b.at)[0]
        if (stalest.at > report.at) return
        reports.delete(stalest.coordinator)
      }
      reports.set(report.coordinator, structuredClone({
        coordinator: report.coordinator,
        trust: { level: report.trust.level, ...(report.trust.reason !== undefined ? { reason: report.trust.reason } : {}) },
        verified: { tasks: report.verified.tasks, tokens: report.verified.tokens },
        demand: report.demand.map(({ model, queued }) => ({ model, queued })),
        at: report.at
      }))
    },
    snapshot () {
      const connected = new Set(host.getConnections().map(c => c.remotePeer.toString()))
      return {
        peerId: host.peerId.toString(),
        engine: init.engine,
        startedAt,
        uptimeMs: Date.now() - startedAt,
        multiaddrs: host.getMultiaddrs().map(ma => ma.toString()),
        network: {
          connectedPeers: connected.size,
          bootstrap: init.bootstrap.map(address => ({ address, connected: connected.has(bootstrapPeer(address) ?? '') }))
        },
        slots: { total: queue.slots, used: queue.running, queued: queue.waiting },
        models: init.models.map(entry => ({ ...entry })),
        tasks: structuredClone(tasks),
        coordinators: [...reports.values()].map(report => structuredClone(report))
      }
    }
  }
}
