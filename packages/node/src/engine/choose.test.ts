import { describe, expect, it } from 'vitest'
import { isDriaError } from '@dria/protocol'
import { chooseEngine } from './choose.js'
import type { ChooseEngineInit } from './choose.js'
import type { ModelsDirProbe, OllamaProbe } from './probe.js'

const HOST = 'http://127.0.0.1:11434'
const ollama = (...names: string[]): OllamaProbe => ({ host: HOST, reachable: true, models: names.map(name => ({ name, digest: 'sha256:00', kind: 'chat' })) })
const down: OllamaProbe = { host: HOST, reachable: false, models: [] }
const dir = (...models: string[]): ModelsDirProbe => ({ path: '/models', exists: true, models })
const init = (over: Partial<ChooseEngineInit> = {}): ChooseEngineInit => ({ engine: 'auto', demoModel: false, pull: false, ...over })

function code (run: () => unknown): string {
  try {
    run()
  } catch (err) {
    if (isDriaError(err)) return err.code
    throw err
  }
  throw new Error('expected an error')
}

describe('chooseEngine', () => {
  it('auto: Ollama when it has the models, else GGUF files, else the demo model only when asked', () => {
    expect(chooseEngine(init(), ollama('llama3.2'), dir('tiny'))).toEqual({ engine: 'ollama', pull: [], generate: false })
    expect(chooseEngine(init(), ollama(), dir('tiny'))).toEqual({ engine: 'llamacpp', pull: [], generate: false })
    expect(chooseEngine(init(), down, dir('tiny'))).toEqual({ engine: 'llamacpp', pull: [], generate: false })
    expect(chooseEngine(init({ models: ['tiny'] }), ollama('llama3.2'), dir('tiny'))).toEqual({ engine: 'llamacpp', pull: [], generate: false })
    expect(chooseEngine(init({ models: ['llama3.2:latest'] }), ollama('llama3.2'), dir())).toEqual({ engine: 'ollama', pull: [], generate: false })
    expect(chooseEngine(init({ demoModel: true }), down, dir())).toEqual({ engine: 'llamacpp', pull: [], generate: true })
    expect(chooseEngine(init({ demoModel: true }), ollama(), dir('tiny'))).toEqual({ engine: 'llamacpp', pull: [], generate: false })
    expect(code(() => chooseEngine(init(), down, dir()))).toBe('NO_MODELS_FOUND')
    expect(code(() => chooseEngine(init(), ollama(), dir()))).toBe('NO_MODELS_FOUND')
    expect(code(() => chooseEngine(init({ demoModel: true, models: ['other'] }), down, dir()))).toBe('NO_MODELS_FOUND')
  })

  it('auto: a model Ollama lacks is pulled with --pull, else MODEL_NOT_PULLED when Ollama is up', () => {
    expect(chooseEngine(init({ models: ['qwen3'], pull: true }), ollama('llama3.2'), dir())).toEqual({ engine: 'ollama', pull: ['qwen3'], generate: false })
    expect(code(() => chooseEngine(init({ models: ['qwen3'] }), ollama('llama3.2'), dir()))).toBe('MODEL_NOT_PULLED')
    expect(code(() => chooseEngine(init({ models: ['qwen3'], pull: true }), down, dir()))).toBe('NO_MODELS_FOUND')
  })

  it('ollama: unreachable, empty, not pulled, or pulled on request', () => {
    const engine = 'ollama'
    expect(code(() => chooseEngine(init({ engine }), down, undefined))).toBe('OLLAMA_UNREACHABLE')
    expect(code(() => chooseEngine(init({ engine }), ollama(), undefined))).toBe('OLLAMA_NO_MODELS')
    expect(code(() => chooseEngine(init({ engine, pull: true }), ollama(), undefined))).toBe('OLLAMA_NO_MODELS')
    expect(code(() => chooseEngine(init({ engine, models: ['a', 'b'] }), ollama('a'), undefined))).toBe('MODEL_NOT_PULLED')
    expect(chooseEngine(init({ engine, models: ['a', 'b'], pull: true }), ollama('a'), undefined)).toEqual({ engine, pull: ['b'], generate: false })
    expect(chooseEngine(init({ engine }), ollama('a'), undefined)).toEqual({ engine, pull: [], generate: false })
  })

  it('llamacpp: files, missing names, the demo model for itself only', () => {
    const engine = 'llamacpp'
    expect(chooseEngine(init({ engine }), undefined, dir('a'))).toEqual({ engine, pull: [], generate: false })
    expect(code(() => chooseEngine(init({ engine, models: ['b'] }), undefined, dir('a')))).toBe('MODEL_NOT_FOUND')
    expect(code(() => chooseEngine(init({ engine }), undefined, dir()))).toBe('NO_MODELS_FOUND')
    expect(chooseEngine(init({ engine, demoModel: true }), undefined, dir())).toEqual({ engine, pull: [], generate: true })
    expect(chooseEngine(init({ engine, demoModel: true, models: ['dria-tiny'] }), undefined, dir('a'))).toEqual({ engine, pull: [], generate: true })
    expect(code(() => chooseEngine(init({ engine, demoModel: true, models: ['b'] }), undefined, dir('a')))).toBe('MODEL_NOT_FOUND')
  })
})
