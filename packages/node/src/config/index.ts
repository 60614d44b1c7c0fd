export { applyConfig, configPathOf, readConfig, writeConfig } from './config-file.js'
export type { NodeConfig } from './config-file.js'
