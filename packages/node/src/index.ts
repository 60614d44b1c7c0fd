export * from './daemon.js'
export { WorkQueue } from './tasks/index.js'
export type { FinishedTask, TaskObserver } from './tasks/index.js'
export type { ServedModel, EngineChoice } from './engine/index.js'
