import type {
  ChatRequest, CompletionRequest, EmbeddingRequest, FinishReason, TokenUsage
} from '@dria/protocol'

/** What a node claims it generated for a chat or completion request. */
export interface GenerationClaim {
  text: string
  finishReason: FinishReason
  /**
   * The generated token ids (`GenerationResult.tokens`, the ending end-of-generation token
   * included). When absent (Ollama) the verifier tokenizes `text` and can only check it
   * statistically.
   */
  tokens?: number[]
  /** `GenerationResult.sampler`; absent means the engine's own (`native`). */
  sampler?: string
  /** The usage the node reported; compared with the verifier's count when present. */
  usage?: TokenUsage
}

/** What a node claims it computed for an embedding request. */
export interface EmbeddingClaim {
  embeddings: number[][]
  usage?: TokenUsage
}

/** A result to verify: the request as parsed (seed, temperature, top_p, stop, max_tokens, response_format) and the claim. */
export type ScoreRequest =
  | { kind: 'chat', request: ChatRequest, claim: GenerationClaim }
  | { kind: 'completion', request: CompletionRequest, claim: GenerationClaim }
  | { kind: 'embedding', request: EmbeddingRequest, claim: EmbeddingClaim }

/**
 * How a result was checked:
 * - `greedy`: temperature 0, every token the (grammar-allowed) argmax within a logit tolerance;
 * - `seeded`: dria-1 with the request's seed, every token the one the seed selects;
 * - `statistical`: any other sampler or no seed: every token plausible and the total surprisal
 *   within what the model's distribution predicts;
 * - `structural`: a text without token ids under a grammar: its tokenization is unknowable
 *   (grammars force unusual ones), so only the finish, the length and the grammar are checked;
 * - `embedding`: the vectors recomputed and compared.
 */
export type ScoreMethod = 'greedy' | 'seeded' | 'statistical' | 'structural' | 'embedding'

/** Why a result failed; stable codes the coordinator matches on. */
export const ScoreFailureCode = {
  /** The claim is malformed: a token id outside the vocabulary, no tokens. */
  INVALID_CLAIM: 'INVALID_CLAIM',
  /** The claimed tokens do not make the claimed text (after stop cutting, template and grammar trimming). */
  TOKENS_TEXT_MISMATCH: 'TOKENS_TEXT_MISMATCH',
  /** The output would have ended before its last token (an end-of-generation token or a stop string earlier). */
  TOKENS_AFTER_STOP: 'TOKENS_AFTER_STOP',
  /** Finish `stop`, but the output does not end with an end-of-generation token or a stop string the model chose. */
  STOP_NOT_PLAUSIBLE: 'STOP_NOT_PLAUSIBLE',
  /** Finish `length` with a token count other than min(max_tokens, context left), or more tokens than allowed. */
  LENGTH_MISMATCH: 'LENGTH_MISMATCH',
  /** A token the request's grammar (response_format) does not allow at its position. */
  GRAMMAR_VIOLATION: 'GRAMMAR_VIOLATION',
  /** Greedy or seeded: a token is not the one the sampler selects from the verifier's logits, beyond the tolerance. */
  TOKEN_NOT_SELECTED: 'TOKEN_NOT_SELECTED',
  /** Statistical: a token the model finds implausible, or a total surprisal beyond what its distribution allows. */
  IMPLAUSIBLE_TEXT: 'IMPLAUSIBLE_TEXT',
  /** The claimed usage differs from the verifier's count. */
  USAGE_MISMATCH: 'USAGE_MISMATCH',
  /** Embeddings: a vector count, width or value beyond the tolerance. */
  EMBEDDING_MISMATCH: 'EMBEDDING_MISMATCH'
} as const

export type ScoreFailureCode = typeof ScoreFailureCode[keyof typeof ScoreFailureCode]

/** The statistical test's numbers (see `PlausibilityTest`). */
export interface PlausibilityStatistics {
  /** Positions scored. */
  tokens: number
  /** Mean of the tokens' mid-ranks in their reference distributions: 1/2 for an honest sample, near 1 for made-up text. */
  meanRank: number
  /** How many standard deviations the sum of mid-ranks lies above an honest sample's mean; the test statistic. */
  z: number
  /** Σ −ln q(token) over tokens inside the reference distributions (nats). */
  surprisal: number
  /** Σ of the positions' entropies: an honest sample's mean surprisal (nats). */
  expectedSurprisal: number
  /** The lowest reference probability of a claimed token (0: outside the top candidates). */
  minProbability: number
}

export interface ScoreReport {
  verdict: 'pass' | 'fail'
  method: ScoreMethod
  /** Why it failed; absent on a pass. */
  code?: ScoreFailureCode
  /** The output position (token index) the failure is about, when it is about one. */
  position?: number
  /** A human-readable account of the failure. */
  detail?: string
  /**
   * The worst margin seen, for calibration: greedy and seeded, the largest logit perturbation
   * any token needed to be the selected one (0: all exact); statistical, the test's z-score; embedding, the largest absolute difference.
   */
  worstMargin: number
  /** The statistical test's numbers (method `statistical`). */
  statistics?: PlausibilityStatistics
  /** The usage as the verifier counts it: the prompt as rendered, and the scored completion tokens. */
  usage: TokenUsage
}
