export * from './dria-client.js'
