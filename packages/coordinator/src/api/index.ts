export * from './app.js'
export * from './auth.js'
