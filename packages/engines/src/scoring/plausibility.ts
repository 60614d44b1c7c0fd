import { DRIA_TOP_K, compareCandidates } from '../sampler/index.js'
import type { Candidate } from '../sampler/index.js'
import type { PlausibilityStatistics } from './types.js'

/**
 * The reference distribution of the statistical test at one position: the temperature-scaled
 * softmax over the top `k` candidates, top_p ignored. Samplers that apply top_p (before the
 * temperature as llama.cpp does, or after it as dria-1 does) draw from a subset of it; that
 * only moves their tokens towards the likely end, so the one-sided test stays valid for them.
 *
 * `index` is the claimed token's place in it, -1 when it is not among the candidates. A token
 * outside the verifier's top `k` but within `epsilon` of the k-th takes the k-th place
 * (another build may have ranked it there).
 */
export function referenceDistribution (top: Candidate[], claimed: Candidate, temperature: number, epsilon: number, k = DRIA_TOP_K): { probabilities: number[], index: number } {
  let candidates = top.slice(0, k)
  let index = candidates.findIndex(candidate => candidate.token === claimed.token)
  if (index < 0 && candidates.length === k && claimed.logit >= candidates[k - 1].logit - epsilon) {
    candidates = [...candidates.slice(0, k - 1), claimed].sort(compareCandidates)
    index = candidates.findIndex(candidate => candidate.token === claimed.token)
  }
  if (candidates.length === 0) return { probabilities: [], index: -1 }
  const best = candidates[0].logit
  const weights = candidates.map(candidate => Math.exp((candidate.logit - best) / temperature))
  const total = weights.reduce((sum, weight) => sum + weight, 0)
  return { probabilities: weights.map(weight => weight / total), index }
}

/**
 * Whether an output's tokens look drawn from the reference distributions, one position at a
 * time. The statistic is each token's mid-rank `m = P(more likely token) + p(token) / 2`
 * (a randomized probability integral transform without the randomness): an honest sample's
 * `m` has mean exactly 1/2 and a variance computable from the distribution, and being bounded
 * its sum is close to normal even for short outputs, where the total surprisal (dominated by
 * rare unlikely tokens) is not. Made-up text sits at the unlikely end: `m` near 1.
 */
export class PlausibilityTest {
  private tokens = 0
  private rankSum = 0
  private rankVariance = 0
  private surprisal = 0
  private expectedSurprisal = 0
  private minProbability = 1

  /** Adds one position; a claimed token outside the distribution (`index` -1) counts as its unlikeliest end (`m = 1`). */
  add (probabilities: number[], index: number): void {
    let above = 0
    let variance = 0
    let entropy = 0
    let rank = 1
    for (const [j, p] of probabilities.entries()) {
      const m = above + p / 2
      variance += p * (m - 0.5) ** 2
      if (p > 0) entropy -= p * Math.log(p)
      if (j === index) rank = m
      above += p
    }
    const p = index < 0 ? 0 : probabilities[index]
    this.tokens++
    this.rankSum += rank
    this.rankVariance += variance
    this.expectedSurprisal += entropy
    if (p > 0) this.surprisal -= Math.log(p)
    this.minProbability = Math.min(this.minProbability, p)
  }

  /** `varianceFloor` keeps z finite for near-deterministic outputs (every position certain). */
  result (varianceFloor: number): PlausibilityStatistics {
    const sigma = Math.sqrt(this.rankVariance + varianceFloor)
    return {
      tokens: this.tokens,
      meanRank: this.tokens === 0 ? 0.5 : this.rankSum / this.tokens,
      z: (this.rankSum - this.tokens / 2) / sigma,
      surprisal: this.surprisal,
      expectedSurprisal: this.expectedSurprisal,
      minProbability: this.minProbability
    }
  }
}
