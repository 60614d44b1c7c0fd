export * from './verify-result.js'
