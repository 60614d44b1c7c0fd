import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createLogger, isDriaError } from '@dria/protocol'
import { testModels } from '@dria/testkit'
import { LlamaCompletion, readGgufFileInfo } from 'node-llama-cpp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadBinding } from './binding.js'
import { createLlamaCppEngine } from './index.js'
import { integersWithoutExponent } from './generation-plan.js'
import type { LlamaCppEngine } from './index.js'
import type { ChatRequest, CompletionRequest } from '@dria/protocol'

// The shared test models when they are beside the repository, else the project's generated ones.
const models = await testModels()
const modelsDir = models.dir
const logger = createLogger('test')
const modelPath = (name: string): string => join(modelsDir, `${name}.gguf`)

const story: CompletionRequest = { model: models.main, prompt: 'Once upon a time', temperature: 0, maxTokens: 40 }
const chat: ChatRequest = {
  model: models.chat,
  messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about a cat.' }],
  temperature: 0,
  maxTokens: 40
}

async function rejectionCode (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    if (isDriaError(err)) return err.code
    throw err
  }
  throw new Error('expected a rejection')
}

describe('LlamaCppEngine', () => {
  let engine: LlamaCppEngine

  beforeAll(async () => {
    engine = await createLlamaCppEngine({ logger }, { modelsDir, threads: 1, slots: 4 })
  })

  afterAll(async () => {
    await engine.close()
  })

  it('lists every GGUF file with its sha256 digest', async () => {
    const listed = await engine.listModels()
    expect(listed.map(m => m.name)).toEqual(models.names)
    for (const model of listed) {
      const bytes = await readFile(modelPath(model.name))
      expect(model.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`)
      expect(model.kind).toBe('chat')
      expect(model.contextLength).toBeGreaterThan(0)
      expect(model.sizeBytes).toBe((await stat(modelPath(model.name))).size)
    }
  })

  it('continues a raw prompt with real token counts and every token id', async () => {
    const result = await engine.complete(story)
    // The same text node-llama-cpp's own greedy completion of the bare prompt gives.
    const llama = await loadBinding(logger)
    const model = await llama.loadModel({ modelPath: modelPath(story.model) })
    const context = await model.createContext({ threads: 1, contextSize: 512 })
    try {
      const reference = new LlamaCompletion({ contextSequence: context.getSequence() })
      // node-llama-cpp drops the space a continuation's first token may start with (the
      // generated model's do); a completion keeps it, as OpenAI's does.
      expect(result.text.trimStart()).toBe(await reference.generateCompletion(story.prompt, { maxTokens: 40, temperature: 0 }))
      // BOS and the prompt as the model's tokenizer splits it.
      expect(result.usage.promptTokens).toBe(1 + model.tokenize(story.prompt, false, 'trimLeadingSpace').length)
    } finally {
      await context.dispose()
      await model.dispose()
    }
    expect(result.text.length).toBeGreaterThan(0)
    expect(result.usage.completionTokens).toBeGreaterThan(0)
    expect(result.usage.completionTokens).toBeLessThanOrEqual(40)
    expect(result.tokens).toHaveLength(result.usage.completionTokens)
    expect(result.tokens?.every(token => Number.isInteger(token) && token >= 0 && token < 512)).toBe(true)
    expect(result.sampler).toBe('dria-1')
  })

  it('labels sampled results without a seed as not reproducible', async () => {
    expect((await engine.complete({ ...story, temperature: 0.8 })).sampler).toBe('dria-1-unseeded')
    expect((await engine.complete({ ...story, temperature: 0.8, seed: 1 })).sampler).toBe('dria-1')
  })

  it('reports OpenAI logprobs: log softmax at temperature 1 with the top alternatives', async () => {
    const result = await engine.complete({ ...story, maxTokens: 6, temperature: 0.8, seed: 2, logprobs: true, topLogprobs: 3 })
    const logprobs = result.logprobs ?? []
    expect(logprobs).toHaveLength(6)
    for (const [i, entry] of logprobs.entries()) {
      expect(entry.logprob).toBeLessThanOrEqual(0)
      expect(entry.topLogprobs).toHaveLength(3)
      expect(entry.bytes).toEqual([...Buffer.from(entry.token)])
      const [best] = entry.topLogprobs
      expect(best.logprob).toBeGreaterThanOrEqual(entry.logprob)
      expect(entry.topLogprobs.map(top => top.logprob)).toEqual([...entry.topLogprobs.map(top => top.logprob)].sort((a, b) => b - a))
      // The sampled token's text is where it sits in the output.
      expect(result.text.slice(logprobs.slice(0, i).reduce((n, e) => n + e.token.length, 0)).startsWith(entry.token)).toBe(true)
    }
    // The probabilities of the whole vocabulary sum to 1: the top alternatives to at most 1.
    expect(logprobs[0].topLogprobs.reduce((sum, top) => sum + Math.exp(top.logprob), 0)).toBeLessThanOrEqual(1 + 1e-9)
    // Asking for logprobs does not change what is sampled.
    const plain = await engine.complete({ ...story, maxTokens: 6, temperature: 0.8, seed: 2 })
    expect(plain.tokens).toEqual(result.tokens)
    expect(plain.logprobs).toBeUndefined()
  })

  it('applies the chat template', async () => {
    const result = await engine.chat(chat)
    expect(result.text.length).toBeGreaterThan(0)
    // The template renders "You tell stories.\n\nUser: Tell me about a cat.\nStory: " and more tokens than the bare text.
    expect(result.usage.promptTokens).toBeGreaterThan(10)
    expect(result.usage.completionTokens).toBeLessThanOrEqual(40)
    // The template's own stop trigger (a newline) ends the answer.
    expect(result.text).not.toContain('\n')
  })

  it('stops at maxTokens with finish reason length', async () => {
    const result = await engine.complete({ ...story, maxTokens: 5 })
    expect(result.finishReason).toBe('length')
    expect(result.usage.completionTokens).toBe(5)
  })

  it('stops at a stop string, leaving it out', async () => {
    const full = await engine.complete(story)
    // A word the greedy text has, not at its start.
    const word = [...full.text.matchAll(/[A-Za-z]{3,}/g)].map(m => m[0]).find(w => full.text.indexOf(w) > 0)
    expect(word).toBeDefined()
    const index = full.text.indexOf(word!)
    const stopped = await engine.complete({ ...story, stop: [word!] })
    expect(stopped.finishReason).toBe('stop')
    // The text is cut right before the stop string; the token holding it was generated.
    expect(stopped.text).toBe(full.text.slice(0, index))
    expect(stopped.tokens).toEqual(full.tokens?.slice(0, stopped.tokens?.length))
    expect(stopped.usage.completionTokens).toBeLessThan(full.usage.completionTokens)
  })

  it('follows a json_schema response format', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 12 },
        happy: { type: 'boolean' },
        mood: { enum: ['glad', 'sad', 'calm'] }
      },
      required: ['name', 'happy', 'mood']
    }
    for (const model of models.names) {
      const result = await engine.chat({ ...chat, model, maxTokens: 120, responseFormat: { type: 'json_schema', schema } })
      expect(result.finishReason).toBe('stop')
      const parsed = JSON.parse(result.text) as Record<string, unknown>
      expect(Object.keys(parsed).sort()).toEqual(['happy', 'mood', 'name'])
      expect(typeof parsed.name).toBe('string')
      expect((parsed.name as string).length).toBeLessThanOrEqual(12)
      expect(typeof parsed.happy).toBe('boolean')
      expect(['glad', 'sad', 'calm']).toContain(parsed.mood)
    }
  })

  it('writes integer fields as integers, never with an exponent (node-llama-cpp\'s grammar allows -5e-20)', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 16 }, friends: { type: 'integer' } }, required: ['name', 'friends'], additionalProperties: false }
    const grammar = await (await loadBinding(logger)).createGrammarForJsonSchema(schema as never)
    expect(grammar.grammar).toMatch(/^integer-number-rule ::= .*\[eE\]/m)
    expect(integersWithoutExponent(grammar.grammar)).toMatch(/^integer-number-rule ::= "-"\? \("0" \| \[1-9\] \[0-9\]\{0,15\}\)$/m)
    // Sampled lines, where the exponent showed up in 3.5 % of answers before.
    for (let seed = 0; seed < 24; seed++) {
      const result = await engine.chat({ ...chat, model: models.chat, maxTokens: 80, temperature: 1, seed, responseFormat: { type: 'json_schema', schema } })
      // The object complete, the grammar's stop trigger ends the answer.
      expect(result.finishReason, result.text).toBe('stop')
      const friends = (JSON.parse(result.text) as { friends: unknown }).friends
      expect(Number.isInteger(friends), result.text).toBe(true)
      expect(result.text).not.toMatch(/"friends": *-?\d+[eE]/)
    }
  })

  it('produces JSON for json_object', async () => {
    const result = await engine.complete({ ...story, maxTokens: 200, responseFormat: { type: 'json_object' } })
    if (result.finishReason === 'stop') expect(() => JSON.parse(result.text) as unknown).not.toThrow()
    expect(result.text.trimStart().startsWith('{')).toBe(true)
  })

  it('embeds every input', async () => {
    const result = await engine.embed({ model: models.main, input: ['a cat', 'the big red dog ran home'] })
    expect(result.embeddings).toHaveLength(2)
    // One value per dimension of the model's embedding.
    const { architectureMetadata } = await readGgufFileInfo(modelPath(models.main), { logWarnings: false })
    for (const vector of result.embeddings) {
      expect(vector).toHaveLength((architectureMetadata as { embedding_length: number }).embedding_length)
      expect(vector.every(Number.isFinite)).toBe(true)
    }
    expect(result.embeddings[0]).not.toEqual(result.embeddings[1])
    expect(result.usage.promptTokens).toBeGreaterThan(4)
    expect(result.usage.completionTokens).toBe(0)
  })

  it('rejects unknown models with MODEL_NOT_FOUND', async () => {
    expect(await rejectionCode(engine.chat({ ...chat, model: 'nope' }))).toBe('MODEL_NOT_FOUND')
    expect(await rejectionCode(createLlamaCppEngine({ logger }, { modelsDir, models: [models.main, 'nope'] }))).toBe('MODEL_NOT_FOUND')
  })

  it('rejects prompts longer than the context with CONTEXT_LENGTH_EXCEEDED', async () => {
    expect(await rejectionCode(engine.complete({ ...story, prompt: 'the cat sat on the mat. '.repeat(2000) }))).toBe('CONTEXT_LENGTH_EXCEEDED')
  })

  it('gives the same answers under concurrent load as alone', async () => {
    const requests: CompletionRequest[] = [
      story,
      { ...story, prompt: 'The dog' },
      { ...story, prompt: 'Tim and Sue', temperature: 0.9, seed: 7 },
      { ...story, model: models.other, prompt: 'hello' }
    ]
    const alone = []
    for (const request of requests) alone.push(await engine.complete(request))
    const together = await Promise.all([...requests, ...requests].map(async request => await engine.complete(request)))
    expect(together).toEqual([...alone, ...alone])
  })

  it('aborts every call in flight with ENGINE_ABORTED and stays usable', async () => {
    const before = await engine.complete(story)
    const long = { model: models.other, prompt: 'hello', temperature: 0, maxTokens: 1500 }
    // Six calls on four slots: two of them are still queued when abort() comes.
    const calls = Array.from({ length: 6 }, async () => await rejectionCode(engine.complete(long)))
    await new Promise(resolve => setTimeout(resolve, 50))
    engine.abort()
    expect(await Promise.all(calls)).toEqual(Array(6).fill('ENGINE_ABORTED'))
    expect(await engine.complete(story)).toEqual(before)
  })

  it('aborts one call through its own signal', async () => {
    const controller = new AbortController()
    const long = { model: models.other, prompt: 'hello', temperature: 0, maxTokens: 1500 }
    const aborted = rejectionCode(engine.complete(long, { signal: controller.signal }))
    const other = engine.complete({ ...long, maxTokens: 20 })
    controller.abort()
    expect(await aborted).toBe('ENGINE_ABORTED')
    expect((await other).usage.completionTokens).toBe(20)
  })
})

describe('LlamaCppEngine determinism and slots', () => {
  const engines: LlamaCppEngine[] = []

  afterAll(async () => {
    await Promise.all(engines.map(async engine => { await engine.close() }))
  })

  async function open (slots: number): Promise<LlamaCppEngine> {
    const engine = await createLlamaCppEngine({ logger }, { modelsDir, models: [models.main, models.other], threads: 1, slots })
    engines.push(engine)
    return engine
  }

  it('generates byte-identical greedy and seeded text in separate engines', async () => {
    const [a, b] = [await open(2), await open(2)]
    const requests: CompletionRequest[] = [
      story,
      { ...story, temperature: 0.8, seed: 42, maxTokens: 60 },
      { ...story, model: models.other, temperature: 1.2, topP: 0.9, seed: 3 }
    ]
    for (const request of requests) {
      const [x, y] = await Promise.all([a.complete(request), b.complete(request)])
      expect(x).toEqual(y)
    }
    const chats: ChatRequest[] = [{ ...chat, model: models.main }, { ...chat, model: models.main, temperature: 0.7, seed: 9 }]
    for (const request of chats) expect(await a.chat(request)).toEqual(await b.chat(request))
    // A different seed samples a different text (of the model that never stops early).
    const seeded = { ...story, model: models.other, temperature: 0.8, maxTokens: 60 }
    expect((await a.complete({ ...seeded, seed: 43 })).text).not.toBe((await a.complete({ ...seeded, seed: 42 })).text)
  })

  it('generates the same text in another process (built dist)', async () => {
    const requests: CompletionRequest[] = [story, { ...story, temperature: 0.8, seed: 42, maxTokens: 60 }]
    const dist = (pkg: string): string => new URL(`../../../${pkg}/dist/index.js`, import.meta.url).href
    // A script file, not `node -e`: node-llama-cpp forks a binding check that inherits
    // execArgv, and `--input-type` breaks that fork.
    const script = `
      import { createLlamaCppEngine } from '${dist('engines')}'
      import { createLogger } from '${dist('protocol')}'
      const engine = await createLlamaCppEngine({ logger: createLogger('child', 'silent') }, { modelsDir: '${modelsDir}', models: ['${models.main}'], threads: 1 })
      const results = []
      for (const request of ${JSON.stringify(requests)}) results.push(await engine.complete(request))
      await engine.close()
      console.log(JSON.stringify(results))`
    const dir = await mkdtemp(join(tmpdir(), 'dria-engines-'))
    try {
      await writeFile(join(dir, 'child.mjs'), script)
      const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'child.mjs')])
      const here = await open(1)
      const local = []
      for (const request of requests) local.push(await here.complete(request))
      expect(JSON.parse(stdout)).toEqual(local)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('runs requests side by side up to its slots and queues the rest', async () => {
    const long = { model: models.other, prompt: 'hello', temperature: 0, maxTokens: 1200 }
    const short = { ...long, maxTokens: 4 }
    const order = async (engine: LlamaCppEngine): Promise<string[]> => {
      const finished: string[] = []
      await Promise.all([
        engine.complete(long).then(() => finished.push('long')),
        engine.complete(short).then(() => finished.push('short'))
      ])
      return finished
    }
    // With two slots the short request runs beside the long one; with one it waits for it.
    expect(await order(await open(2))).toEqual(['short', 'long'])
    expect(await order(await open(1))).toEqual(['long', 'short'])
  })
})
