export { ScoreFailureCode } from './types.js'
export type { EmbeddingClaim, GenerationClaim, ScoreMethod, ScoreReport, ScoreRequest, PlausibilityStatistics } from './types.js'
export {
  EMBEDDING_TOLERANCE, LOGIT_TOLERANCE, MAX_SELECTION_MARGIN, NATIVE_GREEDY_TOLERANCE, PROBABILITY_FLOOR,
  RETOKENIZED_LENGTH_RATIO, RETOKENIZED_LENGTH_SLACK, STOP_PROBABILITY_FLOOR, PLAUSIBILITY_VARIANCE_FLOOR, PLAUSIBILITY_Z_LIMIT
} from './constants.js'
export { compareEmbeddings, scoreEmbeddings } from './embedding.js'
export { couldSelect, greedyMargin, seededMargin } from './selection.js'
export { PlausibilityTest, referenceDistribution } from './plausibility.js'
