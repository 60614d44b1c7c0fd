export * from './batch-service.js'
