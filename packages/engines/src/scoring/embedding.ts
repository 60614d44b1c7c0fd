import { EMBEDDING_TOLERANCE } from './constants.js'
import { ScoreFailureCode } from './types.js'
import type { EmbeddingClaim, ScoreReport } from './types.js'
import type { EmbeddingResult } from '@dria/protocol'

/** The first vector that differs beyond the tolerance, and the largest relative difference seen. */
export function compareEmbeddings (claimed: number[][], actual: number[][]): { mismatch?: { index: number, detail: string }, worst: number } {
  if (claimed.length !== actual.length) {
    return { mismatch: { index: Math.min(claimed.length, actual.length), detail: `${claimed.length} vectors claimed, ${actual.length} computed` }, worst: Number.POSITIVE_INFINITY }
  }
  let worst = 0
  for (const [index, vector] of actual.entries()) {
    const other = claimed[index]
    if (!Array.isArray(other) || other.length !== vector.length) {
      return { mismatch: { index, detail: `vector ${index} has ${Array.isArray(other) ? other.length : 0} components, not ${vector.length}` }, worst: Number.POSITIVE_INFINITY }
    }
    const scale = Math.max(Number.MIN_VALUE, ...vector.map(Math.abs))
    let difference = 0
    for (const [i, value] of vector.entries()) {
      const claimedValue = other[i]
      difference = Math.max(difference, typeof claimedValue === 'number' ? Math.abs(claimedValue - value) / scale : Number.POSITIVE_INFINITY)
    }
    // NaN compares false everywhere: count it as infinitely far.
    if (Number.isNaN(difference)) difference = Number.POSITIVE_INFINITY
    worst = Math.max(worst, difference)
    if (difference > EMBEDDING_TOLERANCE) return { mismatch: { index, detail: `vector ${index} differs by ${difference} of its largest component` }, worst }
  }
  return { worst }
}

/** Checks claimed embeddings against the verifier's own computation of them. */
export function scoreEmbeddings (claim: EmbeddingClaim, actual: EmbeddingResult): ScoreReport {
  const { mismatch, worst } = compareEmbeddings(claim.embeddings, actual.embeddings)
  const usage = actual.usage
  const base = { method: 'embedding' as const, worstMargin: worst, usage }
  if (mismatch !== undefined) return { ...base, verdict: 'fail', code: ScoreFailureCode.EMBEDDING_MISMATCH, position: mismatch.index, detail: mismatch.detail }
  const claimed = claim.usage
  if (claimed !== undefined && (claimed.promptTokens !== usage.promptTokens || claimed.completionTokens !== usage.completionTokens)) {
    return { ...base, verdict: 'fail', code: ScoreFailureCode.USAGE_MISMATCH, detail: `claimed ${claimed.promptTokens} prompt tokens; counted ${usage.promptTokens}` }
  }
  return { ...base, verdict: 'pass' }
}
