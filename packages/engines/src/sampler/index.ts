export { SamplerId, DRIA_TOP_K, DRIA_UNIFORM_DOMAIN, DEFAULT_TEMPERATURE, DEFAULT_TOP_P } from './constants.js'
export { compareCandidates, driaSample, driaSampling, driaSelect, driaWeights, samplingUniform, topCandidates } from './dria-sampler.js'
export type { Candidate, DriaSampling } from './dria-sampler.js'
