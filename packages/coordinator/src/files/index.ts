export * from './file-service.js'
export * from './upload-slots.js'
