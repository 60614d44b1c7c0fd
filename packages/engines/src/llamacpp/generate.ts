/**
 * Generation on one context sequence, one token at a time, in two flavours that differ only
 * in how each token is chosen: `generateDria` (the dria-1 sampler on raw logits, see
 * `../sampler`) and `generateNative` (node-llama-cpp's own sampler). Everything else is the
 * same and is what a verifier replays with `OutputTracker`:
 *
 * - the output ends at an end-of-generation token (kept as the last token, no text), or at
 *   the first token after which a stop string (the request's `stop`, the chat template's or
 *   the grammar's triggers) appears in the text, or at a template stop token — finish `stop`;
 * - otherwise after `maxTokens` tokens (the request's `max_tokens`, capped by what the context
 *   holds after the prompt) — finish `length`;
 * - the text is cut before the stop string; with a grammar trailing whitespace is dropped.
 */
import { LlamaGrammarEvaluationState } from 'node-llama-cpp'
import { DRIA_TOP_K, driaSelect, samplingUniform } from '../sampler/index.js'
import { tokenLogprob } from './logprobs.js'
import { GrammarState, SequenceLogits } from './native-logits.js'
import { OutputText } from './output-text.js'
import type { Candidate, DriaSampling } from '../sampler/index.js'
import type { LogitsRow } from './native-logits.js'
import type { RenderedPrompt, StopSet } from './prompt.js'
import type { FinishReason, TokenLogprob } from '@dria/protocol'
import type { LlamaContextSequence, LlamaGrammar, LlamaModel, Token } from 'node-llama-cpp'

/** One request's generation, resolved from its parameters. */
export interface GenerationPlan {
  prompt: RenderedPrompt
  stops: StopSet
  /** `max_tokens` capped by `contextLeft`. */
  maxTokens: number
  /** Tokens the context holds after the prompt. */
  contextLeft: number
  grammar?: LlamaGrammar
  sampling: DriaSampling
  /** The request's seed, or one drawn for it. */
  seed: number
  /** Report each token's log probability with this many alternatives. */
  logprobs?: { top: number }
}

export interface GenerationOutput {
  /** Every chosen token, the end-of-generation token that ended the output included. */
  tokens: number[]
  text: string
  finishReason: FinishReason
  logprobs?: TokenLogprob[]
}

/** Tokens of left context for a logprob entry's token text. */
const LOGPROB_CONTEXT = 3

/** The finish rules above, applied token by token. */
export class OutputTracker {
  readonly tokens: number[] = []
  private readonly model: LlamaModel
  private readonly plan: GenerationPlan
  private readonly text: OutputText

  constructor (model: LlamaModel, plan: GenerationPlan) {
    this.model = model
    this.plan = plan
    this.text = new OutputText(model, plan.prompt.tokens, plan.stops, plan.prompt.ignoreStart)
  }

  /** Appends a chosen token; the finish reason when the output ends with it. */
  add (token: number): FinishReason | undefined {
    this.tokens.push(token)
    if (this.model.isEogToken(token as Token)) return 'stop'
    if (this.text.push(token)) return 'stop'
    return this.tokens.length >= this.plan.maxTokens ? 'length' : undefined
  }

  answer (): string {
    return this.text.answer(this.plan.grammar?.trimWhitespaceSuffix === true)
  }

  /** The last tokens before the next one: left context for its text. */
  context (): number[] {
    const context = [...this.plan.prompt.tokens.slice(-LOGPROB_CONTEXT), ...this.tokens.slice(-LOGPROB_CONTEXT)]
    return context.slice(-LOGPROB_CONTEXT)
  }
}

interface Step {
  candidates: Candidate[]
  /** With logprobs: the highest raw logits and log Σ exp(z) over the vocabulary. */
  raw?: { top: Candidate[], logNormalizer: number }
}

/**
 * This position's dria-1 candidates (and what logprobs need) while its logits are there.
 * Greedy needs only the first candidate.
 */
async function readStep (row: LogitsRow, plan: GenerationPlan, grammar?: GrammarState): Promise<Step> {
  const candidates = await row.top(plan.sampling.temperature <= 0 ? 1 : DRIA_TOP_K, grammar)
  if (plan.logprobs === undefined) return { candidates }
  const wanted = Math.max(1, plan.logprobs.top)
  const top = grammar === undefined && candidates.length >= wanted ? candidates : await row.top(wanted)
  const { totalWeight } = await row.weigh([])
  return { candidates, raw: { top, logNormalizer: top[0].logit + Math.log(totalWeight) } }
}

/** Generates with the dria-1 sampler: reproducible from the prompt, the parameters and the seed. */
export async function generateDria (sequence: LlamaContextSequence, plan: GenerationPlan, signal: AbortSignal): Promise<GenerationOutput> {
  const model = sequence.model
  const output = new OutputTracker(model, plan)
  const grammar = plan.grammar === undefined ? undefined : new GrammarState(model, plan.grammar)
  const logprobs: TokenLogprob[] | undefined = plan.logprobs === undefined ? undefined : []
  const logits = new SequenceLogits(sequence)
  try {
    let input = plan.prompt.tokens
    for (let position = 0; ; position++) {
      signal.throwIfAborted()
      const [step] = await logits.evaluate(input, [input.length - 1], async row => await readStep(row, plan, grammar))
      if (step.candidates.length === 0) throw new Error('the grammar allows no next token')
      const u = plan.sampling.temperature <= 0 ? 0 : samplingUniform(plan.seed, position)
      const chosen = step.candidates[driaSelect(step.candidates, plan.sampling, u)]
      if (step.raw !== undefined && plan.logprobs !== undefined) {
        logprobs?.push(tokenLogprob(model, output.context(), chosen, step.raw.top, step.raw.logNormalizer, plan.logprobs.top))
      }
      const finishReason = output.add(chosen.token)
      if (finishReason !== undefined) return { tokens: output.tokens, text: output.answer(), finishReason, logprobs }
      grammar?.accept(chosen.token)
      input = [chosen.token]
    }
  } finally {
    logits.dispose()
  }
}

/**
 * Generates with node-llama-cpp's own sampler (temperature, top-k 40, top_p, its seed): the
 * baseline dria-1 is measured against, and outputs only a statistical check can verify.
 */
export async function generateNative (sequence: LlamaContextSequence, plan: GenerationPlan, signal: AbortSignal): Promise<GenerationOutput> {
  const model = sequence.model
  const output = new OutputTracker(model, plan)
  const grammarEvaluationState = plan.grammar === undefined ? undefined : new LlamaGrammarEvaluationState({ model, grammar: plan.grammar })
  const tokens = sequence.evaluate(plan.prompt.tokens as Token[], {
    temperature: plan.sampling.temperature,
    topK: DRIA_TOP_K,
    topP: plan.sampling.topP,
    minP: 0,
    seed: plan.seed,
    grammarEvaluationState,
    yieldEogToken: true
  })
  for await (const token of tokens) {
    signal.throwIfAborted()
    const finishReason = output.add(token)
    if (finishReason !== undefined) return { tokens: output.tokens, text: output.answer(), finishReason }
  }
  throw new Error('generation ended without a finish reason')
}
