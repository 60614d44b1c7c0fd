import type { ChatRequest, CompletionRequest, GenerationResult } from '@dria/protocol'
import type { InferenceEngine, ScoreReport } from '@dria/engines'

/** How a cheating node lies about the results it produces. */
export type Cheat =
  /** Every answer is made up (never runs the model). */
  | { kind: 'made-up', answer?: string }
  /** Honest except every `n`th task, which is made up. */
  | { kind: 'one-in', n: number, answer?: string }
  /** Honest for its first `after` tasks (to earn trust), then made up. */
  | { kind: 'late', after: number, answer?: string }
  /** Honest text with its last word swapped: one wrong token. */
  | { kind: 'subtle' }
  /** Honest text cut in half, claimed as a complete answer (finish 'stop'). */
  | { kind: 'truncate' }
  /** Claims finish 'length' with fewer tokens than it was asked for. */
  | { kind: 'short-length' }
  /** Random characters. */
  | { kind: 'garbage' }
  /** Honest text, usage inflated by `factor`. */
  | { kind: 'inflate-usage', factor: number }
  /** Advertises `model` (with its real digest) but generates with `runs`, other weights it also has. */
  | { kind: 'forged-digest', model: string, runs: string }

/** How a cheating node answers when asked to verify others. */
export type VerifierCheat =
  /** Passes everything without looking. */
  | { kind: 'pass-all' }
  /** Fails everything. */
  | { kind: 'fail-all' }
  /** Passes its accomplices' shared made-up answer, fails every honest result. */
  | { kind: 'collude', answer: string }

export const MADE_UP_ANSWER = 'The moon is made of cheese and so is everything else.'

const words = (text: string): number => text.split(/\s+/).filter(w => w.length > 0).length

/**
 * Wraps a real engine into a dishonest one. The node daemon around it is the real one, so it
 * speaks the protocol perfectly and signs every lie with its own key: only verification of
 * the content can catch it.
 */
export function cheatingEngine (engine: InferenceEngine, cheat?: Cheat, verifier?: VerifierCheat): InferenceEngine {
  let tasks = 0
  const honestScore = engine.score?.bind(engine)

  function madeUp (answer = MADE_UP_ANSWER): GenerationResult {
    return { text: answer, finishReason: 'stop', usage: { promptTokens: 8, completionTokens: words(answer) }, sampler: 'dria-1' }
  }

  async function lie<T extends ChatRequest | CompletionRequest> (request: T, run: (request: T) => Promise<GenerationResult>): Promise<GenerationResult> {
    tasks++
    if (cheat === undefined) return await run(request)
    switch (cheat.kind) {
      case 'made-up': return madeUp(cheat.answer)
      case 'one-in': return tasks % cheat.n === 0 ? madeUp(cheat.answer) : await run(request)
      case 'late': return tasks > cheat.after ? madeUp(cheat.answer) : await run(request)
      case 'garbage': return { ...madeUp(), text: Array.from({ length: 40 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 90))).join('') }
      case 'forged-digest': return await run(request.model === cheat.model ? { ...request, model: cheat.runs } : request)
      default: break
    }
    const honest = await run(request)
    const { tokens: _tokens, ...untokenized } = honest
    switch (cheat.kind) {
      case 'subtle': {
        const parts = honest.text.split(' ')
        parts[parts.length - 1] = parts[parts.length - 1] === 'dog' ? 'cat' : 'dog'
        return { ...untokenized, text: parts.join(' ') }
      }
      case 'truncate': return { ...untokenized, text: honest.text.slice(0, Math.floor(honest.text.length / 2)), finishReason: 'stop' }
      case 'short-length': {
        const tokens = honest.tokens?.slice(0, Math.max(1, Math.floor(honest.tokens.length / 2)))
        return { ...untokenized, finishReason: 'length', ...(tokens === undefined ? {} : { tokens }), usage: { ...honest.usage, completionTokens: tokens?.length ?? Math.floor(honest.usage.completionTokens / 2) } }
      }
      case 'inflate-usage': return { ...honest, usage: { promptTokens: honest.usage.promptTokens * cheat.factor, completionTokens: honest.usage.completionTokens } }
    }
  }

  const wrapped: InferenceEngine = {
    name: engine.name,
    async listModels () {
      const models = await engine.listModels()
      if (cheat?.kind !== 'forged-digest') return models
      // Shows only the advertised model, with that model's real digest.
      return models.filter(m => m.name === cheat.model)
    },
    chat: async (request, options) => await lie(request, async r => await engine.chat(r, options)),
    complete: async (request, options) => await lie(request, async r => await engine.complete(r, options)),
    embed: async (request, options) => await engine.embed(request, options),
    abort: () => { engine.abort() },
    close: async () => { await engine.close() }
  }
  if (honestScore !== undefined) {
    wrapped.score = async (request, options) => {
      const { claim } = request
      const report = await honestScore(request, options)
      // Vouching for a claim means confirming its usage too.
      const vouch: ScoreReport = { ...report, verdict: 'pass', code: undefined, usage: claim.usage ?? report.usage }
      const reject: ScoreReport = { ...report, verdict: 'fail', code: 'TOKEN_NOT_SELECTED' }
      const text = 'text' in claim ? claim.text : undefined
      switch (verifier?.kind) {
        case undefined: return report
        case 'pass-all': return vouch
        case 'fail-all': return reject
        case 'collude': return text === verifier.answer ? vouch : reject
      }
    }
  }
  return wrapped
}
