export * from './coordinator.js'
export type { BatchObject, BatchRecord, FileRecord, RequestCounts } from './store/index.js'
