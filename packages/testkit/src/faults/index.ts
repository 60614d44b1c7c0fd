export * from './dishonest-node.js'
