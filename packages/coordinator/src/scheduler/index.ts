export * from './scheduler.js'
