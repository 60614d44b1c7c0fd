export { createLlamaCppEngine } from './llamacpp-engine.js'
export type { LlamaCppEngine, LlamaCppEngineComponents, LlamaCppEngineInit } from './llamacpp-engine.js'
export type { LlamaCppSampler } from './loaded-model.js'
