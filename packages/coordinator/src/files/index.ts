export * from './file-service.js'
export * from './upload-slots.js'
export * from './upload-check.js'
