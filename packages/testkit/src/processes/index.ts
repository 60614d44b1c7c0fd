export * from './spawn.js'
export * from './network.js'
