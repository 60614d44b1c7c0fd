import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getLlama, LlamaChatSession, LlamaCompletion, readGgufFileInfo } from 'node-llama-cpp'
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { GENERATED_MODEL_NAME, ensureGeneratedModel, generateTinyModel } from './index.js'

// Every node generates this exact file; a change here changes the model digest network-wide.
const DEFAULT_DIGEST = 'sha256:42a6d10ce6180445c68af0431687c05b1e18c4126fa3388bc3d1cb76ea12953e'
/** Everything the model is built to produce: lowercase words and punctuation. */
const TEXT = /^[a-z .,!?']*$/

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dria-tiny-model-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('generateTinyModel', () => {
  it('is byte-identical for the same seed and differs for another seed or name', async () => {
    const a = await generateTinyModel(join(dir, 'a.gguf'))
    const b = await generateTinyModel(join(dir, 'b.gguf'), { seed: 1 })
    const other = await generateTinyModel(join(dir, 'c.gguf'), { seed: 2 })
    const renamed = await generateTinyModel(join(dir, 'd.gguf'), { name: 'other' })
    const bytes = await readFile(a.path)
    expect(bytes.equals(await readFile(b.path))).toBe(true)
    expect(a.digest).toBe(DEFAULT_DIGEST)
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(a.digest)
    expect(b.digest).toBe(a.digest)
    expect(other.digest).not.toBe(a.digest)
    expect(other.sizeBytes).toBe(a.sizeBytes)
    expect(renamed.digest).not.toBe(a.digest)
    expect(a.sizeBytes).toBeLessThan(2 * 1024 * 1024)
  })

  it('writes llama metadata and an SPM tokenizer that node-llama-cpp reads', async () => {
    const { path } = await generateTinyModel(join(dir, 'm.gguf'))
    const info = await readGgufFileInfo(path, { logWarnings: false })
    const { general, tokenizer } = info.metadata
    expect(general).toMatchObject({ architecture: 'llama', name: GENERATED_MODEL_NAME })
    expect(info.architectureMetadata).toMatchObject({
      context_length: 512, embedding_length: 64, block_count: 2, attention: { head_count: 4 }
    })
    const vocab = tokenizer.ggml.tokens.length
    expect(vocab).toBeGreaterThanOrEqual(260)
    expect(vocab).toBeLessThanOrEqual(310)
    expect(tokenizer.ggml).toMatchObject({ model: 'llama', bos_token_id: 1, eos_token_id: 2, unknown_token_id: 0 })
    expect(tokenizer.ggml.scores).toHaveLength(vocab)
    expect(tokenizer.ggml.token_type).toHaveLength(vocab)
    expect(tokenizer.chat_template).toContain('add_generation_prompt')
    expect(info.tensorInfo?.map(t => t.name)).toContain('blk.1.ffn_down.weight')
    expect(info.tensorInfo).toHaveLength(3 + 2 * 9)
  })
})

describe('generated model inference', () => {
  let llama: Llama
  let path: string
  const disposers: Array<() => Promise<void>> = []

  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: 'never' })
  })
  afterAll(async () => { await llama.dispose() })
  beforeEach(async () => {
    ({ path } = await generateTinyModel(join(dir, 'm.gguf')))
  })
  afterEach(async () => {
    for (const dispose of disposers.splice(0).reverse()) await dispose()
  })

  async function open (): Promise<{ model: LlamaModel, context: LlamaContext }> {
    const model = await llama.loadModel({ modelPath: path })
    disposers.push(async () => { await model.dispose() })
    const context = await model.createContext({ threads: 1, contextSize: 512 })
    disposers.push(async () => { await context.dispose() })
    return { model, context }
  }

  it('evaluates N tokens', async () => {
    const { model, context } = await open()
    const produced = []
    const tokens = model.tokenize('the fox ran')
    // EOS does not end the loop: this measures the model runs, not when it likes to stop.
    for await (const token of context.getSequence().evaluate(tokens, { temperature: 0, yieldEogToken: true })) {
      produced.push(token)
      if (produced.length === 64) break
    }
    expect(produced).toHaveLength(64)
  })

  it('completes raw text, identically across loads for greedy and seeded sampling', async () => {
    async function complete (): Promise<string[]> {
      const { context } = await open()
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() })
      const outputs = [
        await completion.generateCompletion('once upon a time', { maxTokens: 48 }),
        await completion.generateCompletion('the network', { maxTokens: 48, temperature: 0.8, seed: 7 })
      ]
      for (const dispose of disposers.splice(0).reverse()) await dispose()
      return outputs
    }
    const first = await complete()
    expect(first[0].length).toBeGreaterThan(0)
    for (const text of first) expect(text).toMatch(TEXT)
    expect(await complete()).toEqual(first)
  })

  it('chats through its chat template', async () => {
    const { context } = await open()
    const session = new LlamaChatSession({ contextSequence: context.getSequence() })
    expect(session.chatWrapper.wrapperName).toBe('JinjaTemplate')
    const answer = await session.prompt('Hello, who are you?', { maxTokens: 32 })
    expect(answer.length).toBeGreaterThan(0)
    expect(answer).toMatch(TEXT)
    expect(await session.prompt('Tell me more.', { maxTokens: 32, temperature: 0.8, seed: 3 })).toMatch(TEXT)
    expect(session.getChatHistory().filter(item => item.type === 'model')).toHaveLength(2)
  })

  it('with endsText: false never ends early, with the context length asked for', async () => {
    ({ path } = await generateTinyModel(join(dir, 'long.gguf'), { endsText: false, contextLength: 2048 }))
    const info = await readGgufFileInfo(path, { logWarnings: false })
    expect(info.architectureMetadata).toMatchObject({ context_length: 2048 })
    const { context } = await open()
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() })
    for (let seed = 1; seed <= 5; seed++) {
      const { metadata } = await completion.generateCompletionWithMeta('the cat', { maxTokens: 200, temperature: 0.8, seed })
      expect(metadata.stopReason).toBe('maxTokens')
    }
  })

  it('sometimes ends its text with EOS when sampling', async () => {
    const { context } = await open()
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() })
    const stops = []
    for (let seed = 1; seed <= 5; seed++) {
      const { metadata } = await completion.generateCompletionWithMeta('the cat', { maxTokens: 200, temperature: 0.8, seed })
      stops.push(metadata.stopReason)
    }
    expect(stops).toContain('eogToken')
  })
})

describe('ensureGeneratedModel', () => {
  it('generates the model into a missing directory once', async () => {
    const modelsDir = join(dir, 'data', 'models')
    const path = await ensureGeneratedModel(modelsDir)
    expect(path).toBe(join(modelsDir, `${GENERATED_MODEL_NAME}.gguf`))
    const bytes = await readFile(path)
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(DEFAULT_DIGEST)
    const before = await stat(path)
    expect(await ensureGeneratedModel(modelsDir)).toBe(path)
    const after = await stat(path)
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs])
  })

  it('leaves an existing file alone', async () => {
    const path = join(dir, `${GENERATED_MODEL_NAME}.gguf`)
    await writeFile(path, 'not regenerated')
    expect(await ensureGeneratedModel(dir)).toBe(path)
    expect(await readFile(path, 'utf8')).toBe('not regenerated')
  })

  it('survives concurrent callers', async () => {
    const paths = await Promise.all([ensureGeneratedModel(dir), ensureGeneratedModel(dir), ensureGeneratedModel(dir)])
    expect(new Set(paths).size).toBe(1)
    const bytes = await readFile(paths[0])
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(DEFAULT_DIGEST)
  })
})
