/**
 * Raw logits of a context sequence, read at the positions a caller asks for while a batch's
 * outputs are still in the context.
 *
 * node-llama-cpp's public `controlledEvaluate` returns raw logits too, but it builds a native
 * sampler (with a vocabulary-sized buffer) on every call and sorts the whole vocabulary to
 * return the top tokens: in a per-token loop, 4 sequences of the 32k-vocabulary test model
 * ran at 0.4× node-llama-cpp's own generation speed. This module keeps one native sampler per
 * generation and lets llama.cpp's top-k partial sort pick the candidates, using the internals
 * `controlledEvaluate` is made of. They belong to node-llama-cpp 3.22.1, which package.json
 * pins exactly; `assertLogitsAccess` fails loudly at model load if they ever change.
 * Evaluation still goes through the context's batch queue, so concurrent sequences decode in
 * shared batches.
 */
import { LlamaGrammarEvaluationState } from 'node-llama-cpp'
import { compareCandidates } from '../sampler/index.js'
import type { Candidate } from '../sampler/index.js'
import type { LlamaContextSequence, LlamaGrammar, LlamaModel, TokenMeter } from 'node-llama-cpp'

interface NativeSampler {
  applyConfig(config: Record<string, unknown>): void
  dispose(): void
}

interface NativeSamplerClass {
  new (model: unknown): NativeSampler
  canBeNextTokenForGrammarEvaluationState(state: unknown, token: number): boolean
  acceptGrammarEvaluationStateToken(state: unknown, token: number): void
}

/** `[token, probabilities, confidence, logits as [token, logit, …], Σ exp(z − z_max)]` */
type SampleResult = [number, unknown, unknown, number[] | undefined, number | undefined]

interface NativeContext {
  sampleToken(
    batchLogitIndex: number, sampler: NativeSampler, probabilities: boolean, confidence: boolean,
    logits: [tokens: number[], includeMax: boolean, includeMin: boolean, includeSelected: boolean, includeTop: number],
    totalLogitWeight: boolean
  ): Promise<SampleResult>
}

interface SequenceInternals {
  _tokenMeter: TokenMeter
  _decodeTokens(
    tokens: number[], logits: Array<true | undefined>, evaluationPriority: number, tokenMeter: TokenMeter,
    contextShift: { size: number, strategy: () => never },
    logitDataMapper: (batchLogitIndex: number, tokenIndex: number) => unknown
  ): Promise<unknown[]>
  context: { _ctx: NativeContext }
}

interface ModelInternals {
  _model: unknown
  _llama: { _bindings: { AddonSampler: NativeSamplerClass } }
}

interface GrammarStateInternals {
  _state: unknown
}

const EVALUATION_PRIORITY = 5
/** Generation is budgeted never to fill the context; a context shift would drop the prompt. */
const NO_CONTEXT_SHIFT = {
  size: 0,
  strategy: (): never => { throw new Error('the context is full') }
}

function nativeSamplerClass (model: LlamaModel): NativeSamplerClass {
  return (model as unknown as ModelInternals)._llama._bindings.AddonSampler
}

/** Throws unless this node-llama-cpp build has the internals this module reads. */
export function assertLogitsAccess (sequence: LlamaContextSequence): void {
  const internals = sequence as unknown as Partial<SequenceInternals>
  const model = sequence.model as unknown as Partial<ModelInternals>
  const ok = typeof internals._decodeTokens === 'function' &&
    internals._tokenMeter !== undefined &&
    typeof internals.context?._ctx?.sampleToken === 'function' &&
    model._model !== undefined &&
    typeof model._llama?._bindings?.AddonSampler?.canBeNextTokenForGrammarEvaluationState === 'function' &&
    typeof model._llama._bindings.AddonSampler.acceptGrammarEvaluationStateToken === 'function'
  if (!ok) throw new Error('this node-llama-cpp build does not expose the raw logits the dria-1 sampler reads; use node-llama-cpp 3.22.1')
}

/** A grammar's state along one output: which token may come next, and the tokens so far. */
export class GrammarState {
  private readonly state: LlamaGrammarEvaluationState
  private readonly natives: NativeSamplerClass

  constructor (model: LlamaModel, grammar: LlamaGrammar) {
    this.state = new LlamaGrammarEvaluationState({ model, grammar })
    this.natives = nativeSamplerClass(model)
  }

  allows (token: number): boolean {
    return this.natives.canBeNextTokenForGrammarEvaluationState(internal(this.state), token)
  }

  accept (token: number): void {
    this.natives.acceptGrammarEvaluationStateToken(internal(this.state), token)
  }

  /** A copy for a native sampler, which advances the state it is given by the token it picks. */
  copy (): LlamaGrammarEvaluationState {
    return this.state.clone()
  }
}

function internal (state: LlamaGrammarEvaluationState): unknown {
  return (state as unknown as GrammarStateInternals)._state
}

/** One evaluated position's logits, readable until the caller's `read` resolves. */
export interface LogitsRow {
  /**
   * The `k` highest raw logits, in candidate order (logit descending, then lower token id),
   * non-finite ones dropped. With `grammar`, only tokens it allows.
   */
  top(k: number, grammar?: GrammarState): Promise<Candidate[]>
  /** The raw logits of `tokens` (any rank) and `Σ exp(z − z_max)` over the whole vocabulary. */
  weigh(tokens: number[]): Promise<{ logits: Map<number, number>, totalWeight: number }>
}

function pairs (flat: number[] | undefined): Candidate[] {
  const candidates: Candidate[] = []
  if (flat === undefined) return candidates
  for (let i = 1; i < flat.length; i += 2) {
    if (Number.isFinite(flat[i])) candidates.push({ token: flat[i - 1], logit: flat[i] })
  }
  return candidates
}

/** llama.cpp sorts by logit but leaves ties in any order: sorted only when that matters. */
function inCandidateOrder (candidates: Candidate[]): Candidate[] {
  for (let i = 1; i < candidates.length; i++) {
    if (compareCandidates(candidates[i - 1], candidates[i]) > 0) return candidates.sort(compareCandidates)
  }
  return candidates
}

/** Tokens in the model's vocabulary (what llama.cpp's top-k 0 means). */
export function vocabularySize (model: LlamaModel): number {
  return model.fileInfo.metadata.tokenizer.ggml.tokens.length
}

/**
 * Logits access on one sequence for one generation or scoring pass. Holds native samplers:
 * `dispose()` when done. Not for concurrent use (the sequence is the caller's alone).
 */
export class SequenceLogits {
  private readonly sequence: SequenceInternals
  private readonly topSampler: NativeSampler
  private readonly weighSampler: NativeSampler
  private readonly vocabularySize: number
  private topConfig?: { k: number, grammar?: LlamaGrammarEvaluationState }

  constructor (sequence: LlamaContextSequence) {
    const Sampler = nativeSamplerClass(sequence.model)
    const model = (sequence.model as unknown as ModelInternals)._model
    this.sequence = sequence as unknown as SequenceInternals
    this.vocabularySize = vocabularySize(sequence.model)
    // temperature 1 with top-k and no other filter: llama.cpp's chain partially sorts the
    // top k and leaves their logits untouched (x / 1 = x); what it samples is ignored.
    this.topSampler = new Sampler(model)
    // temperature 0 is a bare argmax: the whole vocabulary stays, for Σ exp(z − z_max).
    this.weighSampler = new Sampler(model)
    this.weighSampler.applyConfig({ temperature: 0 })
  }

  /**
   * Appends `tokens` to the sequence and calls `read` with the logits after each index in
   * `rows` (ascending), one position at a time. Resolves with the results by row.
   */
  async evaluate<T>(tokens: number[], rows: number[], read: (row: LogitsRow, index: number) => Promise<T>): Promise<T[]> {
    const mask: Array<true | undefined> = []
    for (const index of rows) mask[index] = true
    const results = new Map<number, { value: T } | { error: unknown }>()
    const native = this.sequence.context._ctx
    // Whatever `read` throws is kept and rethrown here: a rejection inside the context's
    // batch loop would leave this and other sequences' evaluations hanging.
    await this.sequence._decodeTokens(tokens, mask, EVALUATION_PRIORITY, this.sequence._tokenMeter, NO_CONTEXT_SHIFT, async (batchLogitIndex, index) => {
      try {
        results.set(index, { value: await read(this.row(native, batchLogitIndex), index) })
      } catch (error) {
        results.set(index, { error })
      }
    })
    return rows.map(index => {
      const result = results.get(index)
      if (result === undefined) throw new Error(`no logits for position ${index}`)
      if ('error' in result) throw result.error
      return result.value
    })
  }

  dispose (): void {
    this.topSampler.dispose()
    this.weighSampler.dispose()
  }

  private row (native: NativeContext, batchLogitIndex: number): LogitsRow {
    const top = async (k: number, grammar?: GrammarState): Promise<Candidate[]> => {
      // k + 1 shows whether a tie straddles the cut; then the whole list decides it.
      const wanted = inCandidateOrder(await this.sampleTop(native, batchLogitIndex, k + 1, grammar))
      if (wanted.length <= k) return wanted
      if (wanted[k - 1].logit !== wanted[k].logit) return wanted.slice(0, k)
      return inCandidateOrder(await this.sampleTop(native, batchLogitIndex, 0, grammar)).slice(0, k)
    }
    const weigh = async (tokens: number[]): Promise<{ logits: Map<number, number>, totalWeight: number }> => {
      const [, , , flat, totalWeight] = await native.sampleToken(batchLogitIndex, this.weighSampler, false, false, [tokens, false, false, false, 0], true)
      return { logits: new Map(pairs(flat).map(({ token, logit }) => [token, logit])), totalWeight: totalWeight ?? Number.NaN }
    }
    return { top, weigh }
  }

  /** The top `k` (0: all) raw logits, grammar-allowed only when `grammar` is given. */
  private async sampleTop (native: NativeContext, batchLogitIndex: number, k: number, grammar?: GrammarState): Promise<Candidate[]> {
    // The sampler accepts the token it picks into the grammar state it holds: give it a copy.
    const state = grammar?.copy()
    if (this.topConfig?.k !== k || state !== undefined || this.topConfig.grammar !== undefined) {
      this.topSampler.applyConfig({
        temperature: 1, topK: k, topP: 1, minP: 0, seed: 0,
        ...(state === undefined ? {} : { grammarEvaluationState: internal(state) })
      })
      this.topConfig = { k, grammar: state }
    }
    const [, , , flat] = await native.sampleToken(batchLogitIndex, this.topSampler, false, false, [[], false, false, false, k === 0 ? this.vocabularySize : k], false)
    return pairs(flat)
  }
}
