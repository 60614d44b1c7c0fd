export * from './trust.js'
export * from './model-identity.js'
export * from './node-reports.js'
