export * from './batch-service.js'
export { assembleBatch } from './assembler.js'
