export * from './network-view.js'
