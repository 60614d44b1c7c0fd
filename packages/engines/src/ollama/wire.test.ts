import { describe, expect, it } from 'vitest'
import { architectureInfo, modelKind, modelMedia, shortName, toFinishReason, toOllamaMessages, toOllamaParams, toResult } from './wire.js'
import type { ShowResponse } from 'ollama'

const llama = { family: 'llama', families: ['llama'] }

describe('Ollama wire mapping', () => {
  it('tells embedding models by capabilities, else by a BERT-like family', () => {
    expect(modelKind({ capabilities: ['embedding'] }, llama)).toBe('embedding')
    expect(modelKind({ capabilities: ['completion', 'tools'] }, { family: 'bert', families: ['bert'] })).toBe('chat')
    expect(modelKind({ capabilities: [] }, { family: 'nomic-bert', families: ['nomic-bert'] })).toBe('embedding')
    expect(modelKind(undefined, llama)).toBe('chat')
  })

  it('maps done_reason and missing counts', () => {
    expect(toFinishReason('length')).toBe('length')
    expect(toFinishReason('stop')).toBe('stop')
    expect(toFinishReason('unload')).toBe('stop')
    expect(toResult('hi', { done_reason: 'stop' })).toEqual({ text: 'hi', finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 0 }, sampler: 'native' })
  })

  it('reads architecture and context length from model_info', () => {
    const show = { model_info: { 'general.architecture': 'qwen2', 'qwen2.context_length': 32768 } } as unknown as ShowResponse
    expect(architectureInfo(show)).toEqual({ architecture: 'qwen2', contextLength: 32768 })
    expect(architectureInfo(undefined)).toEqual({})
  })

  it('maps sampling parameters and names', () => {
    expect(toOllamaParams({ maxTokens: 9, topP: 0.5, seed: 3 })).toEqual({ options: { num_predict: 9, top_p: 0.5, seed: 3 } })
    expect(() => toOllamaParams({ logprobs: true })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_PARAMETER', param: 'body.logprobs', retryable: false }))
    expect(shortName('llama3.2:latest')).toBe('llama3.2')
    expect(shortName('llama3.2:1b')).toBe('llama3.2:1b')
  })

  it('reads vision from capabilities and sends images on the message', () => {
    expect(modelMedia({ capabilities: ['completion', 'vision'] })).toEqual(['vision'])
    expect(modelMedia({ capabilities: ['completion', 'tools'] })).toEqual([])
    expect(modelMedia(undefined)).toEqual([])
    expect(toOllamaMessages([{ role: 'developer', content: 'be brief' }, { role: 'user', content: 'what is it?', images: ['iVBORw0KGgo='] }])).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'what is it?', images: ['iVBORw0KGgo='] }
    ])
  })
})
