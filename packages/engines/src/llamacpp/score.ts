/**
 * Verification of a claimed chat or completion output in one prefill of the prompt and the
 * claimed tokens: the finish rules are replayed (`OutputTracker`, the generator's own), then
 * every claimed token is checked against the verifier's logits at its position — greedy and
 * seeded dria-1 claims exactly (within a logit tolerance), anything else statistically.
 */
import { DRIA_TOP_K, SamplerId, samplingUniform } from '../sampler/index.js'
import {
  LOGIT_TOLERANCE, NATIVE_GREEDY_TOLERANCE, PROBABILITY_FLOOR, RETOKENIZED_LENGTH_RATIO, RETOKENIZED_LENGTH_SLACK, STOP_PROBABILITY_FLOOR,
  PLAUSIBILITY_VARIANCE_FLOOR, PLAUSIBILITY_Z_LIMIT
} from '../scoring/constants.js'
import { greedyMargin, seededMargin } from '../scoring/selection.js'
import { PlausibilityTest, referenceDistribution } from '../scoring/plausibility.js'
import { ScoreFailureCode } from '../scoring/types.js'
import { OutputTracker } from './generate.js'
import { GrammarState, SequenceLogits, vocabularySize } from './native-logits.js'
import type { Candidate } from '../sampler/index.js'
import type { GenerationClaim, ScoreMethod, ScoreReport } from '../scoring/types.js'
import type { GenerationPlan } from './generate.js'
import type { LogitsRow } from './native-logits.js'
import type { SamplingParams, TokenUsage } from '@dria/protocol'
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp'

interface Failure {
  code: ScoreFailureCode
  position?: number
  detail: string
}

/** The claimed tokens, or the claimed text tokenized when the claim has none. */
interface ScoredTokens {
  tokens: number[]
  /** Re-tokenized from the text: token ids unknown, and a stop string's tokens not among them. */
  retokenized: boolean
  /** Retokenized `stop` outputs: trailing whitespace left out, which may belong to the stop's token. */
  tail: string
  /**
   * Retokenized answers whose leading whitespace the template took off: the tokenizations
   * with and without a leading space; the model's logits at the first position pick one.
   */
  variants?: number[][]
}

function retokenize (model: LlamaModel, plan: GenerationPlan, claim: GenerationClaim): ScoredTokens {
  let body = claim.text
  let tail = ''
  if (claim.finishReason === 'stop' && plan.stops.texts.length > 0) {
    body = claim.text.trimEnd()
    tail = claim.text.slice(body.length)
  }
  const tokenize = (text: string): number[] => text === '' ? [] : model.tokenize(text, false, 'trimLeadingSpace')
  const tokens = tokenize(body)
  if (!plan.prompt.ignoreStart.includes(' ') || body === '' || /^\s/.test(body)) return { tokens, retokenized: true, tail }
  return { tokens, retokenized: true, tail, variants: [tokens, tokenize(' ' + body)] }
}

function method (claim: GenerationClaim, params: SamplingParams, plan: GenerationPlan, retokenized: boolean): ScoreMethod {
  if (retokenized && plan.grammar !== undefined) return 'structural'
  const dria = !retokenized && claim.sampler === SamplerId.DRIA
  if (plan.sampling.temperature <= 0) return 'greedy'
  return dria && params.seed !== undefined ? 'seeded' : 'statistical'
}

/** The finish rules, replayed on the claimed tokens: where the output really ends and with what text. */
function replay (model: LlamaModel, plan: GenerationPlan, claim: GenerationClaim, scored: ScoredTokens): Failure | undefined {
  const { tokens } = scored
  // A retokenized text may take more tokens than the sampler used (it does not always choose
  // the canonical tokenization), never much fewer.
  // (The scoring prefill of a retokenized text also evaluates its last token: it must fit.)
  const most = scored.retokenized ? Math.min(Math.ceil(plan.maxTokens * RETOKENIZED_LENGTH_RATIO) + RETOKENIZED_LENGTH_SLACK, plan.contextLeft - 1) : plan.maxTokens
  if (tokens.length > most) {
    return { code: ScoreFailureCode.LENGTH_MISMATCH, position: plan.maxTokens, detail: `${tokens.length} tokens; at most ${plan.maxTokens} can be generated` }
  }
  const tracker = new OutputTracker(model, plan)
  let finish
  let end = -1
  for (const [i, token] of tokens.entries()) {
    finish = tracker.add(token)
    if (finish !== undefined) {
      end = i
      break
    }
  }
  if (scored.retokenized) {
    // Retokenized text holds no end-of-generation token nor stop string: only the length can be replayed.
    if (end >= 0 && end < tokens.length - 1 && finish === 'stop') return { code: ScoreFailureCode.TOKENS_AFTER_STOP, position: end, detail: 'the text contains a stop string' }
    if (claim.finishReason === 'length' && tokens.length < plan.maxTokens - RETOKENIZED_LENGTH_SLACK) {
      return { code: ScoreFailureCode.LENGTH_MISMATCH, position: tokens.length, detail: `finish length after ~${tokens.length} tokens; the budget is ${plan.maxTokens}` }
    }
    return undefined
  }
  if (end >= 0 && end < tokens.length - 1) {
    return { code: ScoreFailureCode.TOKENS_AFTER_STOP, position: end, detail: `the output ends (${finish ?? ''}) at token ${end} of ${tokens.length}` }
  }
  if (finish !== claim.finishReason) {
    return claim.finishReason === 'stop'
      ? { code: ScoreFailureCode.STOP_NOT_PLAUSIBLE, position: tokens.length - 1, detail: 'no end-of-generation token or stop string ends the output' }
      : { code: ScoreFailureCode.LENGTH_MISMATCH, position: tokens.length - 1, detail: finish === 'stop' ? 'the output stops before the token budget' : `${tokens.length} tokens; the budget is ${plan.maxTokens}` }
  }
  if (tracker.answer() !== claim.text) return { code: ScoreFailureCode.TOKENS_TEXT_MISMATCH, detail: 'the tokens do not make the claimed text' }
  return undefined
}

function usageMismatch (claimed: TokenUsage | undefined, usage: TokenUsage): Failure | undefined {
  if (claimed === undefined || (claimed.promptTokens === usage.promptTokens && claimed.completionTokens === usage.completionTokens)) return undefined
  return {
    code: ScoreFailureCode.USAGE_MISMATCH,
    detail: `claimed ${claimed.promptTokens} prompt + ${claimed.completionTokens} completion tokens; counted ${usage.promptTokens} + ${usage.completionTokens}`
  }
}

/** Whether `token` could end a retokenized `stop` output: an end-of-generation or stop token, or one that begins a stop string (after the left-out whitespace). */
function endsOutput (model: LlamaModel, plan: GenerationPlan, token: number, context: number[], tail: string): boolean {
  if (model.isEogToken(token as Token) || plan.stops.tokens.has(token)) return true
  const piece = model.detokenize([token as Token], false, context as Token[])
  if (piece === '') return false
  return plan.stops.texts.some(stop => (tail + stop).startsWith(piece) || piece.startsWith(tail + stop))
}

/** The checks one prefill runs, position by position. */
class PositionChecks {
  worstMargin = 0
  failure?: Failure
  readonly plausibility = new PlausibilityTest()
  private readonly model: LlamaModel
  private readonly plan: GenerationPlan
  private readonly params: SamplingParams
  private readonly method: ScoreMethod
  private readonly tolerance: number
  private readonly scored: ScoredTokens
  private readonly grammar?: GrammarState

  constructor (model: LlamaModel, plan: GenerationPlan, params: SamplingParams, method: ScoreMethod, scored: ScoredTokens, exact: boolean) {
    this.model = model
    this.plan = plan
    this.params = params
    this.method = method
    this.scored = scored
    this.tolerance = exact ? LOGIT_TOLERANCE : NATIVE_GREEDY_TOLERANCE
    this.grammar = plan.grammar === undefined ? undefined : new GrammarState(model, plan.grammar)
  }

  /** Takes the retokenization whose first token the model (and the grammar) prefers. */
  async pickVariant (row: LogitsRow): Promise<void> {
    const variants = this.scored.variants?.filter(variant => variant.length > 0 && (this.grammar?.allows(variant[0]) ?? true))
    if (variants === undefined || variants.length === 0) return
    const { logits } = await row.weigh(variants.map(variant => variant[0]))
    const logit = (variant: number[]): number => logits.get(variant[0]) ?? Number.NEGATIVE_INFINITY
    this.scored.tokens = variants.reduce((best, variant) => logit(variant) > logit(best) ? variant : best)
  }

  /** Output position `i`'s logits: checks the claimed token there, or (past the last) whether the output may end. */
  async check (row: LogitsRow, i: number): Promise<void> {
    if (this.failure !== undefined) return
    const { tokens } = this.scored
    if (i === tokens.length) return await this.checkEnd(row)
    const token = tokens[i]
    if (this.grammar !== undefined && !this.grammar.allows(token)) {
      this.failure = { code: ScoreFailureCode.GRAMMAR_VIOLATION, position: i, detail: `token ${token} is not allowed by the response format here` }
      return
    }
    if (this.method === 'structural') {
      this.grammar?.accept(token)
      return
    }
    const top = await row.top(this.plan.sampling.temperature <= 0 ? 1 : DRIA_TOP_K, this.grammar)
    const claimed = top.find(candidate => candidate.token === token) ?? { token, logit: (await row.weigh([token])).logits.get(token) ?? Number.NEGATIVE_INFINITY }
    this.checkToken(top, claimed, i)
    if (!this.model.isEogToken(token as Token)) this.grammar?.accept(token)
  }

  private checkToken (top: Candidate[], claimed: Candidate, i: number): void {
    switch (this.method) {
      case 'greedy': {
        const margin = greedyMargin(top, claimed)
        this.worstMargin = Math.max(this.worstMargin, margin)
        if (margin > this.tolerance) this.failure = { code: ScoreFailureCode.TOKEN_NOT_SELECTED, position: i, detail: `token ${claimed.token} trails the argmax ${top[0]?.token} by ${margin} logits` }
        return
      }
      case 'seeded': {
        const seed = this.params.seed ?? 0
        const margin = seededMargin(top, claimed, this.plan.sampling, samplingUniform(seed, i))
        this.worstMargin = Math.max(this.worstMargin, margin)
        if (margin > this.tolerance) this.failure = { code: ScoreFailureCode.TOKEN_NOT_SELECTED, position: i, detail: `seed ${seed} does not select token ${claimed.token} (margin ${margin} logits)` }
        return
      }
      default: {
        const { probabilities, index } = referenceDistribution(top, claimed, this.plan.sampling.temperature, LOGIT_TOLERANCE)
        this.plausibility.add(probabilities, index)
        // Claimed token ids outside what top-k sampling can draw are a lie; a tokenization of
        // the text may just not be the one the sampler produced, so it only weighs in the test.
        const p = index < 0 ? 0 : probabilities[index]
        if (!this.scored.retokenized && p < PROBABILITY_FLOOR) this.failure = { code: ScoreFailureCode.IMPLAUSIBLE_TEXT, position: i, detail: `token ${claimed.token} has probability ${p}` }
      }
    }
  }

  /** A retokenized `stop` output: ending must be plausible where the text ends. */
  private async checkEnd (row: LogitsRow): Promise<void> {
    if (this.method === 'structural') return
    const top = await row.top(DRIA_TOP_K, this.grammar)
    const context = [...this.plan.prompt.tokens, ...this.scored.tokens].slice(-3)
    const ends = top.filter(candidate => endsOutput(this.model, this.plan, candidate.token, context, this.scored.tail))
    const position = this.scored.tokens.length
    if (this.method === 'greedy') {
      const margin = ends.length === 0 ? Number.POSITIVE_INFINITY : greedyMargin(top, ends[0])
      if (margin > this.tolerance) this.failure = { code: ScoreFailureCode.STOP_NOT_PLAUSIBLE, position, detail: 'the model does not end the output here' }
      return
    }
    const { probabilities } = referenceDistribution(top, top[0], this.plan.sampling.temperature, 0)
    const ending = top.reduce((sum, candidate, j) => ends.includes(candidate) ? sum + probabilities[j] : sum, 0)
    if (ending < STOP_PROBABILITY_FLOOR) this.failure = { code: ScoreFailureCode.STOP_NOT_PLAUSIBLE, position, detail: `ending here has probability ${ending}` }
  }
}

/**
 * Scores `claim` for a request resolved to `plan`, on `sequence` (empty, the caller's alone).
 * `params` are the request's sampling parameters (for the seed).
 */
export async function scoreGeneration (
  sequence: LlamaContextSequence, plan: GenerationPlan, params: SamplingParams, claim: GenerationClaim, signal: AbortSignal
): Promise<ScoreReport> {
  const model = sequence.model
  const scored: ScoredTokens = claim.tokens === undefined ? retokenize(model, plan, claim) : { tokens: claim.tokens, retokenized: false, tail: '' }
  const chosen = method(claim, params, plan, scored.retokenized)
  const usage = (): TokenUsage => ({ promptTokens: plan.prompt.tokens.length, completionTokens: scored.tokens.length })
  const report = (failure: Failure | undefined, worstMargin = 0, statistics?: ScoreReport['statistics']): ScoreReport => ({
    verdict: failure === undefined ? 'pass' : 'fail',
    method: chosen,
    ...(failure === undefined ? {} : { code: failure.code, detail: failure.detail }),
    ...(failure?.position === undefined ? {} : { position: failure.position }),
    worstMargin,
    ...(statistics === undefined ? {} : { statistics }),
    usage: usage()
  })

  const vocabulary = vocabularySize(model)
  if (!scored.retokenized && (scored.tokens.length === 0 || scored.tokens.some(token => !Number.isInteger(token) || token < 0 || token >= vocabulary))) {
    return report({ code: ScoreFailureCode.INVALID_CLAIM, detail: `tokens must be 1 or more ids below ${vocabulary}` })
  }
  const structural = replay(model, plan, claim, scored) ?? (scored.retokenized ? undefined : usageMismatch(claim.usage, usage()))
  if (structural !== undefined) return report(structural)

  // One prefill of the prompt and the tokens up to the last one (whose logits are not
  // needed), or all of them when the end must be checked. A retokenization still to be
  // picked by the first position's logits splits it in two.
  const checkEnd = scored.retokenized && claim.finishReason === 'stop'
  const checks = new PositionChecks(model, plan, params, chosen, scored, chosen !== 'greedy' || (!scored.retokenized && claim.sampler === SamplerId.DRIA))
  const logits = new SequenceLogits(sequence)
  const evaluate = async (tokens: number[], firstPosition: number, offset: number): Promise<void> => {
    const rows = Array.from({ length: tokens.length - offset }, (_, i) => offset + i)
    if (rows.length === 0 || checks.failure !== undefined) return
    signal.throwIfAborted()
    await logits.evaluate(tokens, rows, async (row, index) => { if (!signal.aborted) await checks.check(row, firstPosition + index - offset) })
  }
  const continuation = (): number[] => checkEnd ? scored.tokens : scored.tokens.slice(0, -1)
  try {
    const prompt = plan.prompt.tokens
    if (scored.variants === undefined) {
      await evaluate([...prompt, ...continuation()], 0, prompt.length - 1)
    } else {
      signal.throwIfAborted()
      await logits.evaluate(prompt, [prompt.length - 1], async row => {
        await checks.pickVariant(row)
        await checks.check(row, 0)
      })
      await evaluate(continuation(), 1, 0)
    }
    signal.throwIfAborted()
  } finally {
    logits.dispose()
  }
  if (chosen !== 'statistical') return report(checks.failure, checks.worstMargin)
  const statistics = checks.plausibility.result(PLAUSIBILITY_VARIANCE_FLOOR)
  const failure = checks.failure ?? (statistics.z > PLAUSIBILITY_Z_LIMIT
    ? { code: ScoreFailureCode.IMPLAUSIBLE_TEXT, detail: `the tokens rank ${statistics.z.toFixed(1)} sigma further down the model's distributions than an honest sample (mean mid-rank ${statistics.meanRank.toFixed(2)})` }
    : undefined)
  return report(failure, statistics.z, statistics)
}
