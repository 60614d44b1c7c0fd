export * from './coordinator.js'
export type { BatchObject, BatchRecord, FileRecord, RequestCounts, TaskRow } from './store/index.js'
// For benchmarks and tools that drive the pipeline's stages directly.
export { ingestFile, readLines } from './ingest/index.js'
export { assembleBatch } from './batches/index.js'
export { createDirBlobStore, createFileService, createS3BlobStore } from './files/index.js'
export type { BlobStore } from './files/index.js'
export { openStore } from './store/index.js'
// The coordinator's side of a node session, for tools that drive nodes directly.
export { createNodeSession } from './network/index.js'
export type { NodeSession, TaskReply } from './network/index.js'
// How a line's seed is chosen when the request sets none (reproducible from the line's key).
export { derivedSeed } from './scheduler/job.js'
