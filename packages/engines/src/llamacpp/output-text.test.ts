import { join } from 'node:path'
import { getLlama, LlamaLogLevel } from 'node-llama-cpp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModels } from '@dria/testkit'
import { OutputText } from './output-text.js'
import type { LlamaModel, Token } from 'node-llama-cpp'

// The shared test models when they are beside the repository, else the project's generated ones.
const models = await testModels()
const modelPath = join(models.dir, `${models.main}.gguf`)
const noStops = { texts: [], tokens: new Set<number>() }

describe('OutputText', () => {
  let model: LlamaModel

  beforeAll(async () => {
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error })
    model = await llama.loadModel({ modelPath, vocabOnly: true })
  })

  afterAll(async () => {
    await model.dispose()
  })

  const tokens = (text: string): number[] => model.tokenize(text, false, 'trimLeadingSpace')
  const prompt = (): number[] => [model.tokens.bos ?? 1, ...tokens('Once upon a time')]

  it('is the detokenization of the tokens after the prompt, leading space kept', () => {
    const output = tokens(' there was a girl. She said "héllo – ünïcode ☃" and ran home.')
    const text = new OutputText(model, prompt(), noStops, [])
    for (const token of output) expect(text.push(token)).toBe(false)
    expect(text.answer()).toBe(model.detokenize(output as Token[], false, prompt().slice(-3) as Token[]))
    expect(text.answer()).toBe(' there was a girl. She said "héllo – ünïcode ☃" and ran home.')
  })

  it('stops at the first token after which a stop string appears, and cuts before it', () => {
    const output = tokens(' there was a little girl named Lily. Lily was happy.')
    const text = new OutputText(model, prompt(), { texts: ['Lily', 'zzz'], tokens: new Set() }, [])
    let stoppedAt = -1
    for (const [i, token] of output.entries()) {
      if (text.push(token)) {
        stoppedAt = i
        break
      }
    }
    expect(model.detokenize(output.slice(0, stoppedAt + 1) as Token[], false, prompt().slice(-3) as Token[])).toMatch(/Lily$/)
    expect(text.answer()).toBe(' there was a little girl named ')
    // Once stopped, further tokens change nothing.
    expect(text.push(output[0])).toBe(true)
    expect(text.answer()).toBe(' there was a little girl named ')
  })

  it('finds a stop string split across tokens and stops at a stop token', () => {
    const output = tokens(' one. Two. Three.')
    const split = new OutputText(model, prompt(), { texts: ['. T'], tokens: new Set() }, [])
    let stopped = false
    for (const token of output) if (!stopped) stopped = split.push(token)
    expect(split.answer()).toBe(' one')
    const byToken = new OutputText(model, prompt(), { texts: [], tokens: new Set([output[2]]) }, [])
    for (const token of output) if (byToken.push(token)) break
    expect(byToken.answer()).toBe(model.detokenize(output.slice(0, 2) as Token[], false, prompt().slice(-3) as Token[]))
  })

  it('leaves the ignored start out of the answer and of the stop search', () => {
    const text = new OutputText(model, prompt(), { texts: [' '], tokens: new Set() }, [' ', '  '])
    let stopped = false
    for (const token of tokens(' Once upon a time')) if (!stopped) stopped = text.push(token)
    expect(stopped).toBe(true)
    expect(text.answer()).toBe('Once')
    expect(text.answer(true)).toBe('Once')
  })
})
