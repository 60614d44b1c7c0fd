export { createOllamaEngine } from './ollama-engine.js'
export type { OllamaEngine, OllamaEngineComponents, OllamaEngineInit } from './ollama-engine.js'
export { isOllamaReachable } from './reachable.js'
