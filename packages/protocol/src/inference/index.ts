export * from './types.js'
export * from './openai-request.js'
export * from './model-kind.js'
