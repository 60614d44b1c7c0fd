export { startOllamaServer } from './server.js'
export type { OllamaServer, OllamaServerFaults, OllamaServerInit, ReceivedRequest } from './server.js'
export { OLLAMA_VERSION } from './constants.js'
