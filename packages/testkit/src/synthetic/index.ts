export * from './synthetic-engine.js'
