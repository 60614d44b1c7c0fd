export * from './advertiser.js'
export * from './model-capacity.js'
