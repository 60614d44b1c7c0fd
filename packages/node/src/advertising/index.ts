export * from './advertiser.js'
