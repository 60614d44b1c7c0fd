export * from './cheating-engine.js'
export * from './hostile-peer.js'
