import { DRIA_TOP_K, compareCandidates } from '../sampler/index.js'
import { MAX_SELECTION_MARGIN } from './constants.js'
import type { Candidate, DriaSampling } from '../sampler/index.js'

/** Binary-search steps for a seeded margin: resolves it to MAX_SELECTION_MARGIN / 2^30. */
const MARGIN_SEARCH_STEPS = 30

/**
 * Greedy: how far (in logits) the claimed token trails the best candidate; 0 when it is the
 * best. `top` are the position's candidates by the verifier's logits (grammar-allowed ones
 * with a grammar), highest first.
 */
export function greedyMargin (top: Candidate[], claimed: Candidate): number {
  return top.length === 0 ? MAX_SELECTION_MARGIN : Math.max(0, top[0].logit - claimed.logit)
}

/**
 * Seeded dria-1: the smallest drift `ε` of the verifier's logit differences under which
 * dria-1 could have selected `claimed` with uniform `u`; 0 when the verifier's logits select
 * it outright, MAX_SELECTION_MARGIN when no drift up to that would.
 *
 * `top` are the position's top candidates by the verifier's logits (at most `k`, candidate
 * order), `claimed` the claimed token with its verifier logit (from `top` or read apart).
 */
export function seededMargin (top: Candidate[], claimed: Candidate, sampling: DriaSampling, u: number, k = DRIA_TOP_K): number {
  if (couldSelect(top, claimed, sampling, u, k, 0)) return 0
  if (!couldSelect(top, claimed, sampling, u, k, MAX_SELECTION_MARGIN)) return MAX_SELECTION_MARGIN
  let low = 0
  let high = MAX_SELECTION_MARGIN
  for (let step = 0; step < MARGIN_SEARCH_STEPS; step++) {
    const middle = (low + high) / 2
    if (couldSelect(top, claimed, sampling, u, k, middle)) high = middle
    else low = middle
  }
  return high
}

/**
 * Whether some logits whose pairwise differences are within `epsilon` of the verifier's make
 * dria-1 select `claimed` at `u`. Conservative (it may accept slightly more than exactly
 * reachable): every weight relative to the claimed token's is allowed a factor
 * `f = e^{ε/T}` either way, tokens within `ε` of the claimed one may rank on either side of
 * it, and a token within `ε` of the k-th may take its place among the candidates.
 */
export function couldSelect (top: Candidate[], claimed: Candidate, sampling: DriaSampling, u: number, k: number, epsilon: number): boolean {
  const candidates = candidateSet(top, claimed, k, epsilon)
  if (candidates === undefined) return false
  const { temperature: t, topP } = sampling
  const f = Math.exp(epsilon / t)
  // Masses relative to the claimed token's weight (1): definitely before it, either side, after.
  let before = 0
  let either = 0
  let after = 0
  for (const candidate of candidates) {
    if (candidate.token === claimed.token) continue
    const weight = Math.exp((candidate.logit - claimed.logit) / t)
    const gap = candidate.logit - claimed.logit
    if (gap > epsilon) before += weight
    else if (gap >= -epsilon) either += weight
    else after += weight
  }
  const beforeLow = before / f
  const beforeHigh = (before + either) * f
  const afterLow = after / f
  const afterHigh = (either + after) * f
  if (topP >= 1) {
    const low = beforeLow / (beforeLow + 1 + afterHigh)
    const high = (beforeHigh + 1) / (beforeHigh + 1 + afterLow)
    return low <= u && u < high
  }
  const totalLow = (before + either + after) / f + 1
  const totalHigh = (before + either + after) * f + 1
  // Kept only if the mass before it has not reached top_p of the total already.
  if (beforeLow >= topP * totalHigh) return false
  // The kept mass W' is the first prefix sum reaching top_p × W, bounded both ways.
  const keptLow = Math.max(beforeLow + 1, prefixReaching(candidates, claimed, t, topP * totalLow, f) / f)
  const keptHigh = prefixReaching(candidates, claimed, t, topP * totalHigh, 1 / f) * f
  const low = beforeLow / keptHigh
  const high = Math.min(1, (beforeHigh + 1) / keptLow)
  return low <= u && u < high
}

/**
 * The candidates dria-1 may have had: the verifier's top `k`, or, when the claimed token is
 * not among them but within `epsilon` of the k-th, those with the claimed one in the last place.
 */
function candidateSet (top: Candidate[], claimed: Candidate, k: number, epsilon: number): Candidate[] | undefined {
  const candidates = top.slice(0, k)
  if (candidates.some(candidate => candidate.token === claimed.token)) return candidates
  if (candidates.length < k || claimed.logit < candidates[k - 1].logit - epsilon) return undefined
  return [...candidates.slice(0, k - 1), claimed].sort(compareCandidates)
}

/** The prefix sum (weights relative to the claimed token's, each scaled by `scale`) at the first candidate where it reaches `target`; the total if none. */
function prefixReaching (candidates: Candidate[], claimed: Candidate, t: number, target: number, scale: number): number {
  let sum = 0
  for (const candidate of candidates) {
    sum += Math.exp((candidate.logit - claimed.logit) / t) * scale
    if (sum >= target) return sum / scale
  }
  return sum / scale
}
