export * from './file-service.js'
