/**
 * Tolerances of `score()`. Each says how it was calibrated; the numbers come from
 * `pnpm bench sampler` (honest lines generated in another process, on the shared test
 * models and the generated model), medians of 3 runs.
 */

/**
 * Greedy and seeded lines: the largest drift of logit differences between the generating
 * node's decode and the verifier's prefill that still counts as the same choice.
 * Calibration: PENDING.
 */
export const LOGIT_TOLERANCE = 0.01

/**
 * Greedy lines from another sampler or without token ids (Ollama: another llama.cpp build,
 * its own tokenization of the text): how far a token may trail the argmax.
 * Calibration: PENDING.
 */
export const NATIVE_GREEDY_TOLERANCE = 0.5

/** The largest margin a seeded check reports (logits): "no drift explains this token". */
export const MAX_SELECTION_MARGIN = 64

/**
 * Statistical test: a token whose reference probability is below this fails outright.
 * Calibration: PENDING.
 */
export const PROBABILITY_FLOOR = 1e-7

/**
 * Statistical test: the largest z-score of an output's mid-ranks that passes.
 * Calibration: PENDING.
 */
export const PLAUSIBILITY_Z_LIMIT = 3.5

/**
 * Added to the mid-rank variance so near-certain outputs (variance ~0) do not divide by ~0:
 * one position's worth of an even distribution's variance (1/12).
 */
export const PLAUSIBILITY_VARIANCE_FLOOR = 1 / 12

/**
 * Outputs without token ids that claim finish `stop`: the reference probability of ending
 * there (an end-of-generation token or a stop string's first token) must reach this.
 * Calibration: PENDING.
 */
export const STOP_PROBABILITY_FLOOR = 1e-4

/**
 * Outputs without token ids: their text tokenized again may take a few tokens fewer than the
 * budget they claim to have filled (finish `length`)...
 */
export const RETOKENIZED_LENGTH_SLACK = 2

/**
 * ...and more tokens than were generated: samplers do not always pick the canonical
 * tokenization. Calibration: PENDING.
 */
export const RETOKENIZED_LENGTH_RATIO = 1.5

/**
 * Embeddings: the largest absolute difference of any component, relative to the vector's
 * largest component. Calibration: PENDING.
 */
export const EMBEDDING_TOLERANCE = 1e-3
