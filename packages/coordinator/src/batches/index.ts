export * from './batch-service.js'
export { assembleBatch, inferenceResultOf } from './assembler.js'
