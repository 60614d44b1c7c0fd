/**
 * Tolerances of `score()`. Each says how it was calibrated: `pnpm bench sampler` (2,000
 * honest lines generated in another process and scored here, 4 models: stories260K,
 * stories260K-chat, llama-2-tiny-random and the generated model; 3 runs; node-llama-cpp
 * 3.22.1 on a 2-core x86-64 CPU, one thread).
 */

/**
 * Greedy and seeded dria-1 lines: the largest drift of logit differences between the
 * generating node's decode and the verifier's prefill that still counts as the same choice.
 * Calibration: the honest lines' worst margin (the drift a token needed to be the selected
 * one) was 0 on 1,331 of 1,340 lines per run and at most 0.0010 logits (0.0014 in earlier
 * runs), 0 false rejections; the lies caught as TOKEN_NOT_SELECTED needed at least 0.0117
 * (1st percentile 0.018, median 0.54; a 600-line run). 0.01 sits 7× above the honest drift.
 */
export const LOGIT_TOLERANCE = 0.01

/**
 * Greedy lines from another sampler or without token ids (Ollama: another llama.cpp build,
 * and a tokenization of the text that may not be the generated one): how far a token may
 * trail the argmax. Calibration: honest text-only greedy lines from the same build needed
 * at most 0.353 (all on the random-weight model, whose top logits lie within ~0.001 of each
 * other; 0 on the trained and generated models), 0 false rejections in 660 lines; no other
 * build can run here, so this is 1.4× that rather than a measured cross-build drift.
 */
export const NATIVE_GREEDY_TOLERANCE = 0.5

/** The largest margin a seeded check reports (logits): "no drift explains this token". */
export const MAX_SELECTION_MARGIN = 64

/**
 * Statistical test, lines with token ids: a token whose reference probability is below this
 * fails outright (top-k 40 samplers never draw tokens outside the top 40, which have
 * probability 0). A sampler draws a token this unlikely with probability ≤ 40 × 1e-7 per
 * token: 4e-4 per 1,000-token line. 0 honest lines with token ids failed it (660 lines).
 */
export const PROBABILITY_FLOOR = 1e-7

/**
 * Statistical test: the largest z-score of an output's mid-ranks that passes (a standard
 * normal exceeds it with probability 2.3e-4). Calibration, honest natively sampled lines
 * (T = 0.8) from another process: with token ids z ≤ 2.65 (0 of 660 rejected at 3.5);
 * without token ids 0 of 495 rejected on the trained and generated models, but 9–31% of the
 * random-weight model's 55 per run (its samples are rarely the canonical tokenization of
 * their text). Lies only this test could catch were detected at 85–88% for every limit from
 * 2.5 to 5: the missed ones are 1–3 substituted tokens the model finds plausible, which no
 * test can tell apart.
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
 * Calibration: 0 honest text-only lines failed it; another model's text claimed as stopped
 * failed it in 223 of 446 lies per run (the rest failed other checks).
 */
export const STOP_PROBABILITY_FLOOR = 1e-4

/**
 * Outputs without token ids: their text tokenized again may take a few tokens fewer than the
 * budget they claim to have filled (finish `length`)...
 */
export const RETOKENIZED_LENGTH_SLACK = 2

/**
 * ...and more tokens than were generated: samplers do not always pick the canonical
 * tokenization. Calibration: retokenized / generated token counts were exactly 1 on the
 * stories models and 1.00–1.18 on the random-weight model (40 lines each).
 */
export const RETOKENIZED_LENGTH_RATIO = 1.5

/**
 * Embeddings: the largest absolute difference of any component, relative to the vector's
 * largest component. Calibration: vectors computed in another process were bit-identical
 * (difference 0 in 30 requests × 3 models); changing one component by 1% of the largest is
 * caught. 1e-3 leaves room for other thread counts and builds.
 */
export const EMBEDDING_TOLERANCE = 1e-3
