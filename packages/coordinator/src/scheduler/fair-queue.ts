import type { Job } from './job.js'

/** Work that can be queued fairly: a batch's lines for one model, or real-time requests. */
export interface WorkSource {
  /** Fair-share group: the API key that owns the work. */
  owner: string
  /** Share weight within its owner and of its owner (a plan may weight its work). */
  weight: number
  /** Virtual time: work already given, divided by weight. */
  vt: number
  /** The next job, without taking it; undefined when none is ready now. */
  peek(): Job | undefined
  take(): Job
}

/**
 * Weighted fair queuing across owners, then across each owner's sources: the next job comes
 * from the owner that received the least work for its weight, then from that owner's source
 * that did. Work is counted in tokens the job may generate, so a 5M-line batch does not starve
 * a 10-line one, and a thousand short lines do not count as much as a thousand long ones.
 */
export class FairQueue {
  readonly #ownerVt = new Map<string, number>()

  /** The source to serve next among `sources`, or undefined when none has a ready job. */
  pick (sources: Iterable<WorkSource>): WorkSource | undefined {
    let best: WorkSource | undefined
    let bestOwnerVt = Infinity
    for (const source of sources) {
      if (source.peek() === undefined) continue
      const ownerVt = this.#ownerVt.get(source.owner) ?? this.#floor()
      if (best === undefined || ownerVt < bestOwnerVt || (ownerVt === bestOwnerVt && source.vt < best.vt)) {
        best = source
        bestOwnerVt = ownerVt
      }
    }
    return best
  }

  /** Accounts `cost` of work given from `source`. */
  charge (source: WorkSource, cost: number): void {
    const ownerVt = this.#ownerVt.get(source.owner) ?? this.#floor()
    this.#ownerVt.set(source.owner, ownerVt + cost / source.weight)
    source.vt += cost / source.weight
  }

  /**
   * Where an owner or source that becomes active starts: level with the least-served one, so
   * idle time earns no credit to burst with later.
   */
  admit (source: WorkSource, siblings: Iterable<WorkSource>): void {
    let floor = Infinity
    for (const other of siblings) if (other !== source && other.peek() !== undefined) floor = Math.min(floor, other.vt)
    if (Number.isFinite(floor)) source.vt = Math.max(source.vt, floor)
    if (!this.#ownerVt.has(source.owner)) this.#ownerVt.set(source.owner, this.#floor())
  }

  /** Drops an owner with no work left (its virtual time would only grow stale). */
  forget (owner: string): void {
    this.#ownerVt.delete(owner)
  }

  #floor (): number {
    let floor = Infinity
    for (const vt of this.#ownerVt.values()) floor = Math.min(floor, vt)
    return Number.isFinite(floor) ? floor : 0
  }
}
