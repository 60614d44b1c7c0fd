export * from './app.js'
export * from './auth.js'
export * from './network-status.js'
