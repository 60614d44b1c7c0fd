export * from './daemon.js'
export * from './slots.js'
export type { ServedModel, EngineChoice } from './engine/index.js'
