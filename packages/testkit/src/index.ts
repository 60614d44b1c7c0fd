export * from './processes/index.js'
export * from './bench.js'
export * from './ollama/index.js'
export * from './event-stream.js'
