export * from './plans.js'
export * from './key-store.js'
export * from './keyring.js'
