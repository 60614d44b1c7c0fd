/**
 * Sampler ids a `GenerationResult.sampler` carries; they tell a verifier how the tokens were
 * chosen and so which check applies.
 */
export const SamplerId = {
  /** Every token is the one dria-1 selects from the logits and the request's seed (or greedily at temperature 0). */
  DRIA: 'dria-1',
  /** dria-1 with a seed the engine drew itself (the request had none, temperature > 0): not reproducible. */
  DRIA_UNSEEDED: 'dria-1-unseeded',
  /** The engine's own sampler (Ollama, node-llama-cpp's): only a statistical check applies. */
  NATIVE: 'native'
} as const

/** Candidates dria-1 samples from at each position. */
export const DRIA_TOP_K = 40

/** Domain separation tag hashed in front of every (seed, position). */
export const DRIA_UNIFORM_DOMAIN = 'dria-sampler/1'

/** OpenAI's defaults: requests arrive in OpenAI's format. */
export const DEFAULT_TEMPERATURE = 1
export const DEFAULT_TOP_P = 1
