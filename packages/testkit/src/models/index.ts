export { testModels } from './test-models.js'
export type { TestModels, TestModelSource } from './test-models.js'
