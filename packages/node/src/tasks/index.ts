export * from './task-handler.js'
