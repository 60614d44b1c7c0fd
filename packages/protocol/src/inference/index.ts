export * from './types.js'
export * from './openai-request.js'
