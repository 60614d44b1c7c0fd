/**
 * # The Dria sampler, `dria-1`
 *
 * A wire-level contract: a node that claims `sampler: 'dria-1'` chose every generated token
 * this way, and a verifier re-implements it to check the claim from one prefill of the prompt
 * and the claimed tokens. At output position `i` (0 for the first generated token), from the
 * model's raw logits `z` (float32 values; all arithmetic in IEEE-754 double precision):
 *
 * 1. **Candidates** `C`: the `K = 40` tokens with the highest logits, ordered by logit
 *    descending, ties broken by the lower token id first. Non-finite logits never qualify.
 *    With a grammar (`response_format` `json_object` / `json_schema`) only the tokens the
 *    grammar allows after the tokens generated so far qualify (an end-of-generation token
 *    only where the grammar may end): walk down the full ordering until 40 allowed tokens
 *    are found or none are left.
 * 2. **Temperature** `T` = the request's `temperature` (default 1, as OpenAI). `T = 0`:
 *    select `C[0]` (greedy); no seed is needed.
 * 3. Otherwise **weights** `w_j = exp((z_j − z_0) / T)` for `C` in order (so `w_0 = 1`) and
 *    `W = Σ w_j`, summed in order.
 * 4. **top_p** `P` = the request's `top_p` (default 1): when `P < 1` keep the shortest
 *    prefix `C[0..m)` (at least one candidate) with `Σ_{j<m} w_j ≥ P·W`; otherwise keep all.
 *    `W'` = the kept prefix's sum.
 * 5. **Uniform** `u = samplingUniform(seed, i)`: the first 53 bits (big-endian) of
 *    `SHA-256("dria-sampler/1" ‖ int64 seed ‖ uint32 i)` (ASCII tag; seed two's-complement
 *    big-endian; position big-endian) divided by 2^53, so `0 ≤ u < 1`.
 * 6. **Select** the first kept `j` with `(Σ_{k≤j} w_k) / W' > u` (the last kept candidate if
 *    rounding leaves none).
 *
 * The seed is the request's `seed`. Without one the engine draws a random seed and labels the
 * result `dria-1-unseeded` (not reproducible) instead of `dria-1`; greedy results are always
 * `dria-1`. How generation ends (end-of-generation tokens, stop strings, `max_tokens`) is the
 * engine's, documented with its generation loop.
 */
import { createHash } from 'node:crypto'
import { DEFAULT_TEMPERATURE, DEFAULT_TOP_P, DRIA_TOP_K, DRIA_UNIFORM_DOMAIN } from './constants.js'
import type { SamplingParams } from '@dria/protocol'

/** One token and its raw logit. */
export interface Candidate {
  token: number
  logit: number
}

/** The two request parameters dria-1 depends on, defaults applied. */
export interface DriaSampling {
  temperature: number
  topP: number
}

export function driaSampling (params: Pick<SamplingParams, 'temperature' | 'topP'>): DriaSampling {
  return { temperature: params.temperature ?? DEFAULT_TEMPERATURE, topP: params.topP ?? DEFAULT_TOP_P }
}

/** Logit descending, then token id ascending: the candidate order of step 1. */
export function compareCandidates (a: Candidate, b: Candidate): number {
  return b.logit - a.logit || a.token - b.token
}

/** The first `k` of `candidates` in candidate order, non-finite logits dropped (step 1). */
export function topCandidates (candidates: Iterable<Candidate>, k = DRIA_TOP_K): Candidate[] {
  const finite = [...candidates].filter(candidate => Number.isFinite(candidate.logit))
  return finite.sort(compareCandidates).slice(0, k)
}

const DOMAIN = Buffer.from(DRIA_UNIFORM_DOMAIN, 'ascii')
const TWO_POW_21 = 2 ** 21
const TWO_POW_53 = 2 ** 53

/** Step 5: the uniform number in [0, 1) that selects the token at output `position`. */
export function samplingUniform (seed: number, position: number): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
  if (!Number.isInteger(position) || position < 0 || position > 0xffffffff) throw new RangeError(`position must be a uint32, got ${position}`)
  const input = Buffer.alloc(DOMAIN.length + 12)
  DOMAIN.copy(input)
  input.writeBigInt64BE(BigInt(seed), DOMAIN.length)
  input.writeUInt32BE(position, DOMAIN.length + 8)
  const digest = createHash('sha256').update(input).digest()
  return (digest.readUInt32BE(0) * TWO_POW_21 + (digest.readUInt32BE(4) >>> 11)) / TWO_POW_53
}

/**
 * Steps 3–4: each candidate's weight, how many candidates top_p keeps, and the kept weight
 * `W'`. `candidates` must be in candidate order.
 */
export function driaWeights (candidates: Candidate[], sampling: DriaSampling): { weights: number[], kept: number, keptWeight: number } {
  const top = candidates[0].logit
  const weights = candidates.map(candidate => Math.exp((candidate.logit - top) / sampling.temperature))
  let total = 0
  for (const weight of weights) total += weight
  if (sampling.topP >= 1) return { weights, kept: weights.length, keptWeight: total }
  const threshold = sampling.topP * total
  let cumulative = 0
  for (let j = 0; j < weights.length; j++) {
    cumulative += weights[j]
    if (cumulative >= threshold) return { weights, kept: j + 1, keptWeight: cumulative }
  }
  return { weights, kept: weights.length, keptWeight: cumulative }
}

/** Steps 2–6: the index in `candidates` (candidate order, non-empty) that `u` selects. */
export function driaSelect (candidates: Candidate[], sampling: DriaSampling, u: number): number {
  if (candidates.length === 0) throw new RangeError('dria-1 needs at least one candidate')
  if (sampling.temperature <= 0) return 0
  const { weights, kept, keptWeight } = driaWeights(candidates, sampling)
  let cumulative = 0
  for (let j = 0; j < kept; j++) {
    cumulative += weights[j]
    if (cumulative / keptWeight > u) return j
  }
  return kept - 1
}

/**
 * dria-1 at one position: the selected candidate. `candidates` are this position's
 * candidates in candidate order (step 1, see `topCandidates`).
 */
export function driaSample (candidates: Candidate[], sampling: DriaSampling, seed: number, position: number): Candidate {
  const u = sampling.temperature <= 0 ? 0 : samplingUniform(seed, position)
  return candidates[driaSelect(candidates, sampling, u)]
}
