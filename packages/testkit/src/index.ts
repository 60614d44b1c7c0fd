export * from './processes/index.js'
export * from './bench.js'
