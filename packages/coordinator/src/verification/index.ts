export * from './verify-result.js'
export * from './checker.js'
