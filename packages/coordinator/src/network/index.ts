export * from './network-view.js'
export * from './node-session.js'
export { EarnedCapacity } from './capacity.js'
