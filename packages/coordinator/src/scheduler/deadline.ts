import { CHECK_DEADLINE_FACTOR, CHECK_MIN_DEADLINE_MS, DEADLINE_BASE_MS, DEADLINE_FACTOR, DEFAULT_MS_PER_TOKEN, UNKNOWN_SPEED_BASE_MS } from '../constants.js'
import type { NodeSession } from '../network/index.js'

export interface DeadlineComponents {
  sessionsFor: (model: string) => NodeSession[]
}

export interface DeadlineInit {
  /** No task waits longer than this. */
  maxMs: number
}

export interface Deadlines {
  /** How long `session` gets for a task of up to `tokens` tokens of `model`. */
  forTask(session: NodeSession, model: string, tokens: number): number
  /**
   * How long a verifier gets to check a result of `tokens` tokens: a few times what a task of
   * the model typically takes (scoring costs less than generating), so a verifier that holds
   * on to checks is passed over quickly and the check goes to another.
   */
  forCheck(session: NodeSession, model: string, tokens: number): number
  /** A task of `model` finished after `ms` (dispatch to answer). */
  completed(model: string, ms: number): void
  /** Typical time of a task of `model` (0 while unknown). */
  typicalMs(model: string): number
  /** Sessions changed: recompute the network-wide speed estimates. */
  invalidate(): void
}

const EWMA_WEIGHT = 0.1

function median (values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/**
 * Task deadlines from what a node has shown, not what it claims: its measured time per token
 * (or, before it has answered anything, the median of the nodes that have), times the tokens
 * the task may generate, times the work queued ahead of it there, with generous slack. A node
 * that stops answering loses the task at the deadline; one that stops answering pings loses
 * its whole session much sooner.
 */
export function createDeadlines (components: DeadlineComponents, init: DeadlineInit): Deadlines {
  const typical = new Map<string, number>()
  const networkSpeed = new Map<string, number | undefined>()

  /** The node's measured speed, else the network's, else undefined. */
  function msPerToken (session: NodeSession, model: string): number | undefined {
    const own = session.msPerToken(model)
    if (own !== undefined) return own
    if (!networkSpeed.has(model)) {
      networkSpeed.set(model, median(components.sessionsFor(model).map(s => s.msPerToken(model)).filter((v): v is number => v !== undefined)))
    }
    return networkSpeed.get(model)
  }

  return {
    forTask (session, model, tokens) {
      const ahead = 1 + session.outstanding / Math.max(1, session.hello.slots)
      const measured = msPerToken(session, model)
      // Until anyone has answered, allow for cold starts (a model still loading).
      const base = measured === undefined ? UNKNOWN_SPEED_BASE_MS : DEADLINE_BASE_MS
      return Math.min(init.maxMs, Math.round(base + DEADLINE_FACTOR * tokens * (measured ?? DEFAULT_MS_PER_TOKEN) * ahead))
    },
    forCheck (session, model, tokens) {
      const full = this.forTask(session, model, tokens)
      const usual = typical.get(model)
      return usual === undefined ? full : Math.min(full, Math.max(CHECK_MIN_DEADLINE_MS, Math.round(CHECK_DEADLINE_FACTOR * usual)))
    },
    completed (model, ms) {
      const previous = typical.get(model)
      typical.set(model, previous === undefined ? ms : previous + EWMA_WEIGHT * (ms - previous))
    },
    typicalMs: model => typical.get(model) ?? 0,
    invalidate: () => { networkSpeed.clear() }
  }
}
