export * from './webhook-sender.js'
