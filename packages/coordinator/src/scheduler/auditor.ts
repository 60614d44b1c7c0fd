import { DriaError } from '@dria/protocol'
import type { Logger } from '@dria/protocol'
import type { TaskClient } from '@dria/p2p'
import type { CoordinatorMetrics } from '../metrics/index.js'
import type { NetworkView, NodePeer } from '../network/index.js'
import type { TaskOutcome, TaskRow } from '../store/index.js'
import { isDeterministic, taskRequestOf, verifyAnswer } from './task-request.js'

export interface AuditorComponents {
  network: NetworkView
  client: TaskClient
  logger: Logger
  metrics: CoordinatorMetrics | null
}

export interface AuditorInit {
  /** Share of deterministic results re-executed (0 to 1). */
  rate: number
  taskTimeoutMs: number
  /** Source of the sampling decision; Math.random by default. */
  random?: () => number
  /** Called when an audit is done with a peer's slot. */
  onSlotFree: (peer: NodePeer) => void
}

export interface Auditor {
  /**
   * The outcome to keep for a verified result. A sampled deterministic result is executed
   * again on a second node with the same model digest; if the two differ, a third decides and
   * the node in the minority gets a strike. Throws `AUDIT_INCONCLUSIVE` when no majority exists.
   */
  review(row: TaskRow, taskId: string, first: { peer: NodePeer, outcome: TaskOutcome }, signal: AbortSignal): Promise<TaskOutcome>
  /**
   * Offers a slot that just became free to an audit waiting for it (audits go before queued
   * work, or a busy network would never be audited). True when an audit took it.
   */
  slotFreed(peer: NodePeer): boolean
}

/** Same answer: identical output text (or vectors) and finish reason. */
function sameAnswer (a: TaskOutcome, b: TaskOutcome): boolean {
  return JSON.stringify(JSON.parse(a.output)) === JSON.stringify(JSON.parse(b.output))
}

/** Sampled re-execution: layer 3 of verification. */
export function createAuditor (components: AuditorComponents, init: AuditorInit): Auditor {
  const { network, client, metrics } = components
  const log = components.logger.child({ module: 'auditor' })
  const random = init.random ?? Math.random
  const waiting = new Map<string, Array<() => void>>()

  /** Takes a slot on `peer`, waiting for one to free up when it is busy. */
  async function acquire (peer: NodePeer, signal: AbortSignal): Promise<void> {
    if (peer.inflight < peer.record.slotsTotal) {
      peer.inflight++
      return
    }
    const queue = waiting.get(peer.id) ?? []
    waiting.set(peer.id, queue)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        queue.splice(queue.indexOf(granted), 1)
        reject(signal.reason)
      }
      const granted = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      queue.push(granted)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** The verified outcome of `row` on `peer`, or undefined if that peer could not give one. */
  async function rerun (row: TaskRow, taskId: string, peer: NodePeer, signal: AbortSignal): Promise<TaskOutcome | undefined> {
    const auditId = `${taskId}/audit/${peer.id}`
    await acquire(peer, signal)
    try {
      const response = await client.run(peer.peerId, taskRequestOf(row, auditId, init.taskTimeoutMs), {
        signal: AbortSignal.any([signal, AbortSignal.timeout(init.taskTimeoutMs)])
      })
      const result = response.result
      if (result == null || result.error != null) return undefined
      return await verifyAnswer(result, row, auditId, peer)
    } catch (err) {
      if (signal.aborted) throw err
      log.debug({ peer: peer.id, taskId, err }, 'audit execution failed')
      return undefined
    } finally {
      init.onSlotFree(peer)
    }
  }

  function done (result: 'agreed' | 'caught' | 'inconclusive' | 'skipped', outcome: TaskOutcome): TaskOutcome {
    metrics?.audits.inc({ result })
    return outcome
  }

  return {
    slotFreed (peer) {
      const next = waiting.get(peer.id)?.shift()
      if (next === undefined) return false
      peer.inflight++
      next()
      return true
    },
    async review (row, taskId, first, signal) {
      if (init.rate <= 0 || !isDeterministic(row) || random() >= init.rate) return first.outcome
      // Two other nodes with the same weights (most room first): with fewer, a mismatch could not be blamed on anyone.
      const others = network.peersFor(row.model).filter(peer =>
        peer.id !== first.peer.id && peer.models.get(row.model)?.digest === first.outcome.modelDigest)
      if (others.length < 2) return done('skipped', first.outcome)

      const second = await rerun(row, taskId, others[0], signal)
      if (second === undefined) return done('skipped', first.outcome)
      if (sameAnswer(first.outcome, second)) return done('agreed', { ...first.outcome, auditedBy: [others[0].id] })

      const third = await rerun(row, taskId, others[1], signal)
      const witnesses = [others[0].id, others[1].id]
      if (third !== undefined && sameAnswer(third, first.outcome)) {
        network.strike(others[0], `audit of ${taskId}: disagreed with two nodes`)
        return done('caught', { ...first.outcome, auditedBy: witnesses })
      }
      if (third !== undefined && sameAnswer(third, second)) {
        network.strike(first.peer, `result of ${taskId}: disagreed with two nodes`)
        return done('caught', { ...second, auditedBy: witnesses })
      }
      metrics?.audits.inc({ result: 'inconclusive' })
      throw new DriaError('AUDIT_INCONCLUSIVE', `nodes disagree on ${taskId} and no two agree`, { retryable: true })
    }
  }
}
