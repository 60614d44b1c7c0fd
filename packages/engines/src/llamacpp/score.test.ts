import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createLogger } from '@dria/protocol'
import { testModels } from '@dria/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureGeneratedModel } from '../gguf/index.js'
import { createLlamaCppEngine } from './index.js'
import type { GenerationClaim, ScoreRequest } from '../scoring/index.js'
import type { LlamaCppEngine } from './index.js'
import type { ChatRequest, CompletionRequest, GenerationResult } from '@dria/protocol'

// The shared test models when they are beside the repository, else the project's generated ones.
const models = await testModels()
const modelsDir = models.dir
const logger = createLogger('test')

const story: CompletionRequest = { model: models.main, prompt: 'Once upon a time', temperature: 0, maxTokens: 24 }
const chat: ChatRequest = {
  model: models.chat,
  messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about a cat.' }],
  temperature: 0,
  maxTokens: 24
}
const schema = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 12 }, happy: { type: 'boolean' } },
  required: ['name', 'happy']
}

type Line = { kind: 'completion', request: CompletionRequest } | { kind: 'chat', request: ChatRequest }

async function run (engine: LlamaCppEngine, line: Line): Promise<GenerationResult> {
  return line.kind === 'chat' ? await engine.chat(line.request) : await engine.complete(line.request)
}

function scoreRequest (line: Line, claim: GenerationClaim): ScoreRequest {
  return { ...line, claim } as ScoreRequest
}

const honestLines: Line[] = [
  { kind: 'completion', request: story },
  { kind: 'completion', request: { ...story, temperature: 0.8, seed: 11 } },
  { kind: 'completion', request: { ...story, temperature: 1.1, topP: 0.9, seed: 12 } },
  // A stop string: the text is cut before it, finish stop.
  { kind: 'completion', request: { ...story, stop: ['Lily'] } },
  // The template's own trigger (a newline) or EOS ends chat answers.
  { kind: 'chat', request: { ...chat, temperature: 0.9, seed: 3, maxTokens: 60 } },
  { kind: 'chat', request: { ...chat, model: models.main, temperature: 0.7, seed: 5 } },
  { kind: 'chat', request: { ...chat, model: models.other, temperature: 0.9, seed: 6, maxTokens: 12 } },
  { kind: 'chat', request: { ...chat, maxTokens: 80, responseFormat: { type: 'json_schema', schema } } },
  { kind: 'chat', request: { ...chat, maxTokens: 80, temperature: 0.9, seed: 8, responseFormat: { type: 'json_schema', schema } } },
  { kind: 'completion', request: { ...story, model: models.other, maxTokens: 60, responseFormat: { type: 'json_object' } } }
]

describe('LlamaCppEngine.score', () => {
  let engine: LlamaCppEngine
  const results: GenerationResult[] = []

  beforeAll(async () => {
    engine = await createLlamaCppEngine({ logger }, { modelsDir, threads: 1, slots: 2 })
    for (const line of honestLines) results.push(await run(engine, line))
  })

  afterAll(async () => {
    await engine.close()
  })

  it('passes honest lines: greedy, seeded, top_p, stop strings, template triggers, grammars', async () => {
    const finishes = new Set<string>()
    for (const [i, line] of honestLines.entries()) {
      const report = await engine.score(scoreRequest(line, results[i]))
      expect({ i, verdict: report.verdict, code: report.code }).toEqual({ i, verdict: 'pass', code: undefined })
      expect(report.method).toBe(line.request.temperature === 0 ? 'greedy' : 'seeded')
      expect(report.usage).toEqual(results[i].usage)
      finishes.add(results[i].finishReason)
    }
    // Both finish reasons, and an end-of-generation token as a claimed last token, were covered.
    expect(finishes).toEqual(new Set(['stop', 'length']))
    expect(results.some(result => result.finishReason === 'stop' && result.text.startsWith('{'))).toBe(true)
  })

  it('checks natively sampled and token-less lines statistically', async () => {
    const native = await createLlamaCppEngine({ logger }, { modelsDir, models: [models.main], threads: 1, sampler: 'native' })
    try {
      for (const seed of [1, 2, 3]) {
        const line: Line = { kind: 'completion', request: { ...story, prompt: `Once upon a time (${seed})`, temperature: 0.8 } }
        const result = await run(native, line)
        expect(result.sampler).toBe('native')
        const withTokens = await engine.score(scoreRequest(line, result))
        const tokenless = await engine.score(scoreRequest(line, { text: result.text, finishReason: result.finishReason, sampler: 'native' }))
        for (const report of [withTokens, tokenless]) {
          expect(report).toMatchObject({ verdict: 'pass', method: 'statistical' })
          expect(report.statistics?.tokens).toBeGreaterThan(0)
        }
      }
    } finally {
      await native.close()
    }
  })

  it('fails each kind of lie with its code', async () => {
    const seeded = honestLines[1]
    const seededResult = results[1]
    const code = async (line: Line, claim: GenerationClaim): Promise<string | undefined> => (await engine.score(scoreRequest(line, claim))).code

    // Another seed's honest output claimed for this seed.
    const otherSeed = await run(engine, { kind: 'completion', request: { ...seeded.request, seed: 99 } as CompletionRequest })
    expect(await code(seeded, otherSeed)).toBe('TOKEN_NOT_SELECTED')
    // A greedy output claimed as sampled with a seed.
    expect(await code(seeded, results[0])).toBe('TOKEN_NOT_SELECTED')
    // Tokens that do not make the text, or a text the tokens do not make.
    expect(await code(seeded, { ...seededResult, text: seededResult.text + ' and more' })).toBe('TOKENS_TEXT_MISMATCH')
    expect(await code(seeded, { ...seededResult, tokens: seededResult.tokens?.map((t, i) => i === 3 ? t + 1 : t) })).toBe('TOKENS_TEXT_MISMATCH')
    // A truncated output claimed as stopped, and as cut by the budget with fewer tokens.
    const short = await run(engine, { kind: 'completion', request: { ...story, maxTokens: 6 } })
    expect(short.finishReason).toBe('length')
    expect(await code({ kind: 'completion', request: story }, { ...short, finishReason: 'stop' })).toBe('STOP_NOT_PLAUSIBLE')
    expect(await code({ kind: 'completion', request: story }, { ...short, usage: { ...short.usage } })).toBe('LENGTH_MISMATCH')
    // Tokens past a stop string.
    const stop = results[0].text.slice(2, 5)
    expect(await code({ kind: 'completion', request: { ...story, stop: [stop] } }, results[0])).toBe('TOKENS_AFTER_STOP')
    // Inflated usage.
    expect(await code(seeded, { ...seededResult, usage: { ...seededResult.usage, completionTokens: seededResult.usage.completionTokens + 3 } })).toBe('USAGE_MISMATCH')
    // Token ids outside the vocabulary (the test models have at most a few thousand).
    expect(await code(seeded, { ...seededResult, tokens: [...(seededResult.tokens ?? []).slice(0, -1), 1_000_000] })).toBe('INVALID_CLAIM')
    // Plain text claimed for a JSON schema request.
    const plain = await run(engine, { kind: 'chat', request: { ...chat, maxTokens: 8 } })
    expect(await code({ kind: 'chat', request: { ...chat, maxTokens: 8, responseFormat: { type: 'json_schema', schema } } }, plain)).toBe('GRAMMAR_VIOLATION')
    // Another model's text, without token ids, claimed for a sampled request. (The generated
    // models are one family of character noise: a statistical test rightly cannot tell them apart.)
    if (models.source === 'shared') {
      const foreign = await run(engine, { kind: 'completion', request: { ...story, model: models.other, temperature: 0.8, maxTokens: 30 } })
      const sampled: Line = { kind: 'completion', request: { ...story, temperature: 0.8, maxTokens: 200 } }
      expect(await code(sampled, { text: foreign.text, finishReason: 'stop', sampler: 'native' })).toMatch(/^(IMPLAUSIBLE_TEXT|STOP_NOT_PLAUSIBLE)$/)
      expect(await code(sampled, { text: foreign.text + ' the end', finishReason: 'stop', sampler: 'native' })).toMatch(/^(IMPLAUSIBLE_TEXT|STOP_NOT_PLAUSIBLE)$/)
    }
  })

  it('checks embeddings against its own', async () => {
    const request = { model: models.main, input: ['a cat', 'a dog ran home'] }
    const { embeddings } = await engine.embed(request)
    expect(await engine.score({ kind: 'embedding', request, claim: { embeddings } })).toMatchObject({ verdict: 'pass', method: 'embedding', worstMargin: 0 })
    const nudged = embeddings.map((vector, i) => i === 1 ? vector.map((x, k) => k === 0 ? x + 0.05 : x) : vector)
    expect(await engine.score({ kind: 'embedding', request, claim: { embeddings: nudged } })).toMatchObject({ verdict: 'fail', code: 'EMBEDDING_MISMATCH', position: 1 })
    expect((await engine.score({ kind: 'embedding', request, claim: { embeddings: [embeddings[0]] } })).code).toBe('EMBEDDING_MISMATCH')
  })

  it('passes lines generated in another process (built dist)', async () => {
    const lines = honestLines.slice(0, 6)
    const dist = (pkg: string): string => new URL(`../../../${pkg}/dist/index.js`, import.meta.url).href
    // A script file, not `node -e`: node-llama-cpp forks a binding check that inherits execArgv.
    const script = `
      import { createLlamaCppEngine } from '${dist('engines')}'
      import { createLogger } from '${dist('protocol')}'
      const engine = await createLlamaCppEngine({ logger: createLogger('child', 'silent') }, { modelsDir: '${modelsDir}', models: ${JSON.stringify([models.main, models.chat])}, threads: 1 })
      const results = []
      for (const line of ${JSON.stringify(lines)}) results.push(line.kind === 'chat' ? await engine.chat(line.request) : await engine.complete(line.request))
      await engine.close()
      console.log(JSON.stringify(results))`
    const dir = await mkdtemp(join(tmpdir(), 'dria-score-'))
    try {
      await writeFile(join(dir, 'child.mjs'), script)
      const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'child.mjs')])
      const elsewhere = JSON.parse(stdout) as GenerationResult[]
      // Reproducible across processes, and scored as honest.
      expect(elsewhere).toEqual(results.slice(0, lines.length))
      for (const [i, line] of lines.entries()) expect((await engine.score(scoreRequest(line, elsewhere[i]))).verdict).toBe('pass')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('LlamaCppEngine.score on the generated model', () => {
  let dir: string
  let engine: LlamaCppEngine

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-generated-'))
    await ensureGeneratedModel(dir)
    engine = await createLlamaCppEngine({ logger }, { modelsDir: dir, threads: 1, slots: 2 })
  })

  afterAll(async () => {
    await engine.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('passes honest lines and catches a lie', async () => {
    const [{ name: model }] = await engine.listModels()
    const lines: Line[] = [
      { kind: 'completion', request: { model, prompt: 'the cat', temperature: 0, maxTokens: 20 } },
      { kind: 'completion', request: { model, prompt: 'the dog', temperature: 0.8, seed: 4, maxTokens: 20 } },
      { kind: 'chat', request: { model, messages: [{ role: 'user', content: 'a story' }], temperature: 0.8, topP: 0.9, seed: 5, maxTokens: 20 } },
      { kind: 'chat', request: { model, messages: [{ role: 'user', content: 'a story' }], maxTokens: 60, responseFormat: { type: 'json_object' }, temperature: 0 } }
    ]
    const results = []
    for (const line of lines) {
      const result = await run(engine, line)
      results.push(result)
      expect((await engine.score(scoreRequest(line, result))).verdict).toBe('pass')
    }
    // This model ends its sentences with EOS (token 2): the result keeps it as its last token.
    expect(results[0]).toMatchObject({ finishReason: 'stop', tokens: expect.arrayContaining([2]) })
    expect(results[0].tokens?.at(-1)).toBe(2)
    expect(results[0].usage.completionTokens).toBe(results[0].tokens?.length)
    const other = await run(engine, { ...lines[1], request: { ...lines[1].request, seed: 40 } } as Line)
    expect((await engine.score(scoreRequest(lines[1], other))).code).toBe('TOKEN_NOT_SELECTED')
  })
})
