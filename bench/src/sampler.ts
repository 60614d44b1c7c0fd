/**
 * Sampler and scoring benchmark (`pnpm bench sampler [lines]`), all measured in one run:
 * - generation throughput of the dria-1 sampler against node-llama-cpp's native sampler in
 *   the same engine (1 and 4 concurrent sequences, greedy and T = 0.8), rounds alternating;
 * - scoring time against generation time of the same lines;
 * - honest lines (default 2,000: greedy, seeded T = 0.8 with top_p 1 and 0.9, chat and
 *   completion, json_schema, stop strings, natively sampled without a seed, and the same
 *   without token ids as Ollama sends them) generated in this process and in another
 *   process, scored here: false rejections, and the margins the tolerances are set from;
 * - dishonest lines built from them: detection rates per kind of lie;
 * - embeddings recomputed in another process, and tampered ones.
 * Models: the shared test models and the generated model.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { GENERATED_MODEL_NAME, SamplerId, createLlamaCppEngine, ensureGeneratedModel } from '@dria/engines'
import { createLogger } from '@dria/protocol'
import { SHARED_MODELS_DIR, median, percentile, printTable, runConcurrently, tempDir } from '@dria/testkit'
import { getLlama, LlamaLogLevel } from 'node-llama-cpp'
import type { GenerationClaim, LlamaCppEngine, ScoreReport, ScoreRequest } from '@dria/engines'
import type { ChatRequest, CompletionRequest, EmbeddingRequest, GenerationResult } from '@dria/protocol'
import type { LlamaModel, Token } from 'node-llama-cpp'

const SHARED = ['stories260K', 'stories260K-chat', 'llama-2-tiny-random']
const MODELS = [...SHARED, GENERATED_MODEL_NAME]
const SLOTS = 4
const ROUNDS = 5
const logger = createLogger('bench', 'silent')

type Kind = 'chat' | 'completion'
/** One honest line: what is asked, of which sampler, and the class it is reported under. */
interface Line {
  kind: Kind
  request: ChatRequest | CompletionRequest
  sampler: typeof SamplerId.DRIA | typeof SamplerId.NATIVE
  group: string
}

const OPENINGS = ['Once upon a time', 'The little dog', 'Tom and Sue went', 'One day, a bird', 'The sun was', 'Lily saw a big', 'In the park', 'A boy named Ben']
const SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 12 }, happy: { type: 'boolean' }, mood: { enum: ['glad', 'sad', 'calm'] } },
  required: ['name', 'happy', 'mood']
}

/** A deterministic mix of `count` requests over every model and kind of parameter. */
function honestLines (count: number): Line[] {
  const lines: Line[] = []
  const groups = ['greedy', 'seeded top_p 1', 'seeded top_p 0.9', 'greedy, stop strings', 'json_schema greedy', 'json_schema seeded', 'native unseeded', 'native unseeded, no token ids', 'native greedy, no token ids']
  for (let i = 0; i < count; i++) {
    const model = MODELS[i % MODELS.length]
    const group = groups[Math.floor(i / MODELS.length) % groups.length]
    // The chat model only chats; the others alternate.
    const kind: Kind = model === 'stories260K-chat' || (Math.floor(i / (MODELS.length * groups.length)) % 2 === 1) ? 'chat' : 'completion'
    const opening = `${OPENINGS[i % OPENINGS.length]} ${i % 7 === 0 ? '' : `(${i})`}`.trim()
    const base = { model, maxTokens: 16 + (i % 5) * 12 }
    const params = ((): Partial<CompletionRequest> => {
      switch (group) {
        case 'greedy':
        case 'native greedy, no token ids': return { temperature: 0 }
        case 'seeded top_p 1': return { temperature: 0.8, seed: i }
        case 'seeded top_p 0.9': return { temperature: 0.8, topP: 0.9, seed: i }
        case 'greedy, stop strings': return { temperature: 0, stop: ['.', ' the'] }
        case 'json_schema greedy': return { temperature: 0, maxTokens: 80, responseFormat: { type: 'json_schema', schema: SCHEMA } }
        case 'json_schema seeded': return { temperature: 0.8, seed: i, maxTokens: 80, responseFormat: { type: 'json_schema', schema: SCHEMA } }
        default: return { temperature: 0.8 }
      }
    })()
    const request = kind === 'chat'
      ? { ...base, ...params, messages: [{ role: 'system' as const, content: 'You tell stories.' }, { role: 'user' as const, content: `Tell me about ${opening.toLowerCase()}.` }] }
      : { ...base, ...params, prompt: opening }
    lines.push({ kind, request, sampler: group.startsWith('native') ? SamplerId.NATIVE : SamplerId.DRIA, group })
  }
  return lines
}

/** What a line's claim is: the result, without token ids for the Ollama-like group. */
function claimOf (line: Line, result: GenerationResult): GenerationClaim {
  const claim: GenerationClaim = { text: result.text, finishReason: result.finishReason, sampler: result.sampler, usage: result.usage, tokens: result.tokens }
  if (line.group.endsWith('no token ids')) {
    delete claim.tokens
    delete claim.usage
  }
  return claim
}

interface Engines { dria: LlamaCppEngine, native: LlamaCppEngine }

async function openEngines (modelsDir: string): Promise<Engines> {
  const init = { modelsDir, models: MODELS, threads: 1, slots: SLOTS }
  return { dria: await createLlamaCppEngine({ logger }, init), native: await createLlamaCppEngine({ logger }, { ...init, sampler: 'native' }) }
}

async function generate (engines: Engines, line: Line): Promise<GenerationResult> {
  const engine = line.sampler === SamplerId.NATIVE ? engines.native : engines.dria
  return line.kind === 'chat' ? await engine.chat(line.request as ChatRequest) : await engine.complete(line.request as CompletionRequest)
}

/** Generates `lines` (and embeds `embeddings`) in a separate Node process, as another node would. */
async function generateElsewhere (dir: string, modelsDir: string, lines: Line[], embeddings: EmbeddingRequest[]): Promise<{ results: GenerationResult[], vectors: number[][][] }> {
  const dist = (pkg: string): string => new URL(`../../packages/${pkg}/dist/index.js`, import.meta.url).href
  const input = join(dir, 'lines.json')
  const output = join(dir, 'results.json')
  await writeFile(input, JSON.stringify({ lines, embeddings }))
  // A script file, not `node -e`: node-llama-cpp's binding check forks with execArgv.
  const script = `
    import { readFile, writeFile } from 'node:fs/promises'
    import { createLlamaCppEngine } from '${dist('engines')}'
    import { createLogger } from '${dist('protocol')}'
    const { lines, embeddings } = JSON.parse(await readFile(${JSON.stringify(input)}, 'utf8'))
    const logger = createLogger('child', 'silent')
    const init = { modelsDir: ${JSON.stringify(modelsDir)}, models: ${JSON.stringify(MODELS)}, threads: 1, slots: ${SLOTS} }
    const engines = { 'dria-1': await createLlamaCppEngine({ logger }, init), native: await createLlamaCppEngine({ logger }, { ...init, sampler: 'native' }) }
    const results = new Array(lines.length)
    let next = 0
    await Promise.all(Array.from({ length: ${SLOTS} }, async () => {
      while (next < lines.length) {
        const i = next++
        const line = lines[i]
        const engine = engines[line.sampler]
        results[i] = line.kind === 'chat' ? await engine.chat(line.request) : await engine.complete(line.request)
      }
    }))
    const vectors = []
    for (const request of embeddings) vectors.push((await engines['dria-1'].embed(request)).embeddings)
    await Promise.all(Object.values(engines).map(async engine => await engine.close()))
    await writeFile(${JSON.stringify(output)}, JSON.stringify({ results, vectors }))`
  await writeFile(join(dir, 'child.mjs'), script)
  await promisify(execFile)(process.execPath, [join(dir, 'child.mjs')], { maxBuffer: 1 << 26 })
  return JSON.parse(await readFile(output, 'utf8')) as { results: GenerationResult[], vectors: number[][][] }
}

async function scoreLines (verifier: LlamaCppEngine, lines: Line[], claims: GenerationClaim[]): Promise<ScoreReport[]> {
  return await runConcurrently(lines.length, SLOTS, async i => await verifier.score({ kind: lines[i].kind, request: lines[i].request, claim: claims[i] } as ScoreRequest))
}

// ---------------------------------------------------------------------------------------
// Throughput and scoring cost

/**
 * Tokens per second of wall time, and CPU time per token (all of the process's threads):
 * the second holds up when other processes compete for the cores.
 */
async function throughput (engines: Engines): Promise<Array<Record<string, string | number>>> {
  const rows: Array<Record<string, string | number>> = []
  // Not the generated model: its outputs end after a few tokens, so tokens per second would
  // measure per-request costs, and the two samplers' outputs differ in length.
  for (const model of ['stories260K', 'llama-2-tiny-random']) {
    for (const sequences of [1, 4]) {
      for (const temperature of [0, 0.8]) {
        const requests = sequences * 8
        const run = async (engine: LlamaCppEngine, round: number): Promise<{ rate: number, cpu: number }> => {
          const started = performance.now()
          const cpu = process.cpuUsage()
          const tokens = (await runConcurrently(requests, sequences, async i => {
            const result = await engine.complete({ model, prompt: `${OPENINGS[i % OPENINGS.length]} (${round}.${i})`, maxTokens: 128, temperature, seed: i })
            return result.usage.completionTokens
          })).reduce((sum, n) => sum + n, 0)
          const used = process.cpuUsage(cpu)
          return { rate: tokens / ((performance.now() - started) / 1000), cpu: (used.user + used.system) / tokens }
        }
        const dria: Array<{ rate: number, cpu: number }> = []
        const native: Array<{ rate: number, cpu: number }> = []
        await run(engines.dria, -1)
        await run(engines.native, -1)
        // The same prompts for both samplers in a round; which goes first alternates.
        for (let round = 0; round < ROUNDS; round++) {
          if (round % 2 === 0) {
            dria.push(await run(engines.dria, round))
            native.push(await run(engines.native, round))
          } else {
            native.push(await run(engines.native, round))
            dria.push(await run(engines.dria, round))
          }
        }
        const rate = (runs: typeof dria): number => median(runs.map(r => r.rate))
        const cpu = (runs: typeof dria): number => median(runs.map(r => r.cpu))
        rows.push({
          model, sequences, temperature,
          'dria-1 tok/s': rate(dria),
          'native tok/s': rate(native),
          'dria-1 / native (wall)': (rate(dria) / rate(native)).toFixed(2),
          'CPU µs/token dria-1 / native': `${cpu(dria).toFixed(0)} / ${cpu(native).toFixed(0)}`,
          'native / dria-1 (CPU)': (cpu(native) / cpu(dria)).toFixed(2),
          target: '≥ 0.9'
        })
      }
    }
  }
  return rows
}

/**
 * Per line, sequentially: generation, then scoring it; wall time and CPU time (all of the
 * process's threads: it holds up when other processes compete for the cores).
 */
async function scoringCost (engines: Engines, lines: Line[]): Promise<Array<Record<string, string | number>>> {
  interface Times { generation: number[], scoring: number[], generationCpu: number[], scoringCpu: number[] }
  const byModel = new Map<string, Times>()
  const cpuMs = (since: NodeJS.CpuUsage): number => { const used = process.cpuUsage(since); return (used.user + used.system) / 1000 }
  for (const line of lines) {
    let started = performance.now()
    let cpu = process.cpuUsage()
    const result = await generate(engines, line)
    const generation = performance.now() - started
    const generationCpu = cpuMs(cpu)
    started = performance.now()
    cpu = process.cpuUsage()
    await engines.dria.score({ kind: line.kind, request: line.request, claim: claimOf(line, result) } as ScoreRequest)
    const times = byModel.get(line.request.model) ?? { generation: [], scoring: [], generationCpu: [], scoringCpu: [] }
    times.generation.push(generation)
    times.scoring.push(performance.now() - started)
    times.generationCpu.push(generationCpu)
    times.scoringCpu.push(cpuMs(cpu))
    byModel.set(line.request.model, times)
  }
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)
  const all = [...byModel.values()]
  byModel.set('all', {
    generation: all.flatMap(t => t.generation), scoring: all.flatMap(t => t.scoring), generationCpu: all.flatMap(t => t.generationCpu), scoringCpu: all.flatMap(t => t.scoringCpu)
  })
  return [...byModel].map(([model, times]) => ({
    model,
    lines: times.generation.length,
    'generation ms/line': sum(times.generation) / times.generation.length,
    'scoring ms/line': sum(times.scoring) / times.scoring.length,
    'scoring / generation (wall)': (sum(times.scoring) / sum(times.generation)).toFixed(2),
    'scoring / generation (CPU)': (sum(times.scoringCpu) / sum(times.generationCpu)).toFixed(2),
    target: '~0.5'
  }))
}

// ---------------------------------------------------------------------------------------
// Honest lines

function honestTable (lines: Line[], here: ScoreReport[], elsewhere: ScoreReport[]): Array<Record<string, string | number>> {
  const groups = [...new Set(lines.map(line => line.group))]
  return groups.map(group => {
    const indexes = lines.flatMap((line, i) => line.group === group ? [i] : [])
    const failed = (reports: ScoreReport[]): number => indexes.filter(i => reports[i].verdict === 'fail').length
    const margins = indexes.map(i => elsewhere[i].worstMargin)
    const codes = [...new Set(indexes.filter(i => elsewhere[i].verdict === 'fail').map(i => `${elsewhere[i].code ?? ''} (${lines[i].request.model})`))]
    return {
      group,
      method: [...new Set(indexes.map(i => elsewhere[i].method))].join(', '),
      lines: indexes.length,
      'rejected, same process': failed(here),
      'rejected, other process': failed(elsewhere),
      'rate, other process': `${(100 * failed(elsewhere) / indexes.length).toFixed(2)}%`,
      'worst margin p99 / max': `${percentile(margins, 99).toFixed(4)} / ${Math.max(...margins).toFixed(4)}`,
      codes: codes.join(', ')
    }
  })
}

// ---------------------------------------------------------------------------------------
// Dishonest lines

interface Lie { kind: string, line: Line, claim: GenerationClaim }

/** Detokenizers for building consistent lies: a liar makes its text agree with its tokens. */
async function vocabularies (modelsDir: string): Promise<Map<string, LlamaModel>> {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error })
  const models = new Map<string, LlamaModel>()
  for (const name of MODELS) models.set(name, await llama.loadModel({ modelPath: join(modelsDir, `${name}.gguf`), vocabOnly: true }))
  return models
}

/** The claimed text for `tokens`, as the engine would make it for a `length` output without stop strings. */
function textOf (model: LlamaModel, line: Line, tokens: number[], prompt: number[]): string {
  const text = model.detokenize(tokens as Token[], false, prompt.slice(-3) as Token[])
  // Chat templates here drop leading whitespace from answers.
  return line.kind === 'chat' && !line.request.model.startsWith('llama-2') ? text.replace(/^[ \t]+/, '') : text
}

function promptTokens (model: LlamaModel, line: Line, engineTokens: number): number[] {
  // Only the tail matters (detokenizer context); completions are BOS + the prompt.
  if (line.kind === 'completion') return [model.tokens.bos ?? 1, ...model.tokenize((line.request as CompletionRequest).prompt, false, 'trimLeadingSpace')]
  return Array<number>(Math.min(3, engineTokens)).fill(model.tokens.bos ?? 1)
}

function randomToken (model: LlamaModel, random: () => number): number {
  const size = model.fileInfo.metadata.tokenizer.ggml.tokens.length
  for (;;) {
    const token = 3 + Math.floor(random() * (size - 3))
    if (!model.isSpecialToken(token as Token) && !model.getTokenAttributes(token as Token).byte) return token
  }
}

function lies (lines: Line[], results: GenerationResult[], vocab: Map<string, LlamaModel>, foreign: Map<number, GenerationResult>): Lie[] {
  let state = 7
  const random = (): number => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 }
  const out: Lie[] = []
  for (const [i, line] of lines.entries()) {
    const result = results[i]
    const tokens = result.tokens
    if (tokens === undefined || line.group.endsWith('no token ids')) continue
    const model = vocab.get(line.request.model)
    if (model === undefined) continue
    const honest = claimOf(line, result)
    const plain = line.request.responseFormat === undefined && line.request.stop === undefined
    const prompt = promptTokens(model, line, result.usage.promptTokens)
    if (plain && result.finishReason === 'length' && tokens.length >= 4) {
      // Made-up tokens: 1–3 positions replaced, the text made from the new tokens.
      const madeUp = [...tokens]
      const count = 1 + Math.floor(random() * 3)
      for (let k = 0; k < count; k++) {
        const at = Math.floor(random() * madeUp.length)
        let token = randomToken(model, random)
        while (token === tokens[at]) token = randomToken(model, random)
        madeUp[at] = token
      }
      const checked = line.sampler === SamplerId.NATIVE ? 'native claims' : 'dria-1 claims'
      out.push({ kind: `made-up tokens (${checked})`, line, claim: { ...honest, tokens: madeUp, text: textOf(model, line, madeUp, prompt), usage: { ...result.usage } } })
      // Truncated output claimed as stop; and length with fewer tokens.
      const cut = 1 + Math.floor(random() * (tokens.length - 1))
      const prefix = tokens.slice(0, cut)
      const prefixText = textOf(model, line, prefix, prompt)
      out.push({ kind: 'truncated, claimed stop', line, claim: { ...honest, tokens: prefix, text: prefixText, finishReason: 'stop', usage: { ...result.usage, completionTokens: cut } } })
      out.push({ kind: 'length with fewer tokens', line, claim: { ...honest, tokens: prefix, text: prefixText, usage: { ...result.usage, completionTokens: cut } } })
    }
    // Wrong token ids for the text: one id changed, the text kept.
    const wrong = [...tokens]
    const at = Math.floor(random() * wrong.length)
    wrong[at] = wrong[at] === 5 ? 6 : 5
    out.push({ kind: 'wrong token ids for the text', line, claim: { ...honest, tokens: wrong } })
    // Inflated usage.
    out.push({ kind: 'inflated usage', line, claim: { ...honest, usage: { promptTokens: result.usage.promptTokens + (random() < 0.5 ? 1 : 0), completionTokens: result.usage.completionTokens + 1 + Math.floor(random() * 5) } } })
    // Another model's output for the same request, in this model's tokens, cut to the
    // budget (finish length) or ended with an end-of-generation token (finish stop): as
    // token ids under the line's sampler, and as text only, as Ollama would send it.
    const other = foreign.get(i)
    if (other !== undefined && plain && other.text.trim() !== '') {
      const budget = line.request.maxTokens ?? 0
      const retokenized = model.tokenize(other.text, false, 'trimLeadingSpace').slice(0, budget)
      const length = retokenized.length === budget
      const claimed = length ? retokenized : [...retokenized, model.tokens.eos ?? 2]
      const text = textOf(model, line, retokenized, prompt)
      const finishReason = length ? 'length' as const : 'stop' as const
      out.push({ kind: 'another model\'s output (token ids)', line, claim: { text, finishReason, sampler: result.sampler, tokens: claimed, usage: { promptTokens: result.usage.promptTokens, completionTokens: claimed.length } } })
      out.push({ kind: 'another model\'s output (text only)', line, claim: { text, finishReason, sampler: SamplerId.NATIVE } })
    }
  }
  return out
}

/** Per model: how often tokenizing a line's text again gives exactly its generated tokens (EOS left out). */
function retokenization (lines: Line[], results: GenerationResult[], vocab: Map<string, LlamaModel>): Array<Record<string, string | number>> {
  const counts = new Map<string, { lines: number, exact: number }>()
  for (const [i, line] of lines.entries()) {
    const tokens = results[i].tokens
    const model = vocab.get(line.request.model)
    if (tokens === undefined || model === undefined || line.request.responseFormat !== undefined || line.request.stop !== undefined || results[i].text === '') continue
    const eos = model.isEogToken(tokens[tokens.length - 1] as Token)
    // A stop string's tokens are not in the text.
    if (results[i].finishReason === 'stop' && !eos) continue
    const generated = eos ? tokens.slice(0, -1) : tokens
    // Chat templates here take the answer's leading space off: tokenize it with one, too.
    const text = results[i].text
    const variants = [text, ' ' + text].map(t => model.tokenize(t, false, 'trimLeadingSpace'))
    const count = counts.get(line.request.model) ?? { lines: 0, exact: 0 }
    count.lines++
    if (variants.some(variant => JSON.stringify(variant) === JSON.stringify(generated))) count.exact++
    counts.set(line.request.model, count)
  }
  return [...counts].map(([model, { lines, exact }]) => ({ model, lines, 'same token ids': exact, share: `${(100 * exact / lines).toFixed(1)}%` }))
}

/** Greedy lines claimed for a sampled request (another temperature and seed): a lie only where that request's honest output differs. */
async function greedyClaimedAsSeeded (engines: Engines, lines: Line[], results: GenerationResult[]): Promise<{ lies: Lie[], coincided: number }> {
  const out: Lie[] = []
  let coincided = 0
  for (const [i, line] of lines.entries()) {
    if (line.group !== 'greedy') continue
    const request = { ...line.request, temperature: 0.8, seed: 1000 + i }
    const honest = await generate(engines, { ...line, request })
    if (JSON.stringify(honest.tokens) === JSON.stringify(results[i].tokens)) {
      coincided++
      continue
    }
    out.push({ kind: 'greedy line claimed as seeded', line: { ...line, request }, claim: claimOf(line, results[i]) })
  }
  return { lies: out, coincided }
}

function lieTable (all: Lie[], reports: ScoreReport[], notes: Record<string, string>): Array<Record<string, string | number>> {
  const kinds = [...new Set(all.map(lie => lie.kind))]
  return kinds.map(kind => {
    const indexes = all.flatMap((lie, i) => lie.kind === kind ? [i] : [])
    const detected = indexes.filter(i => reports[i].verdict === 'fail')
    const codes = new Map<string, number>()
    for (const i of detected) codes.set(reports[i].code ?? '', (codes.get(reports[i].code ?? '') ?? 0) + 1)
    const missed = [...new Set(indexes.filter(i => reports[i].verdict === 'pass').map(i => `${all[i].line.group} (${all[i].line.request.model}, ${reports[i].usage.completionTokens} tokens)`))]
    return {
      lie: kind,
      lines: indexes.length,
      detected: detected.length,
      rate: `${(100 * detected.length / Math.max(1, indexes.length)).toFixed(1)}%`,
      codes: [...codes].map(([code, n]) => `${code} ${n}`).join(', '),
      missed: [notes[kind] ?? '', ...missed].filter(s => s !== '').join('; ')
    }
  })
}

// ---------------------------------------------------------------------------------------
// Embeddings

function embeddingRequests (): EmbeddingRequest[] {
  return ['stories260K', 'llama-2-tiny-random', GENERATED_MODEL_NAME].flatMap(model =>
    Array.from({ length: 10 }, (_, i) => ({ model, input: [OPENINGS[i % OPENINGS.length], `${OPENINGS[(i + 3) % OPENINGS.length]} and a cat ${i}`] })))
}

async function embeddingTable (verifier: LlamaCppEngine, requests: EmbeddingRequest[], vectors: number[][][]): Promise<Array<Record<string, string | number>>> {
  const score = async (i: number, embeddings: number[][]): Promise<ScoreReport> => await verifier.score({ kind: 'embedding', request: requests[i], claim: { embeddings } })
  const cases: Array<[string, (vectors: number[][], i: number) => number[][]]> = [
    ['honest, other process', v => v],
    ['another input\'s vectors', (v, i) => vectors[(i + 1) % vectors.length].length === v.length && vectors[(i + 1) % vectors.length][0].length === v[0].length ? vectors[(i + 1) % vectors.length] : [...v].reverse()],
    ['1% noise on every component', v => v.map(vector => vector.map((x, k) => x + 0.01 * Math.max(...vector.map(Math.abs)) * (k % 2 === 0 ? 1 : -1)))],
    ['one component changed by 1%', v => v.map((vector, j) => j === 0 ? vector.map((x, k) => k === 3 ? x + 0.01 * Math.max(...vector.map(Math.abs)) : x) : vector)],
    ['truncated vectors', v => v.map(vector => vector.slice(0, -1))]
  ]
  const rows: Array<Record<string, string | number>> = []
  for (const [name, tamper] of cases) {
    const reports = await Promise.all(vectors.map(async (v, i) => await score(i, tamper(v, i))))
    const failed = reports.filter(report => report.verdict === 'fail').length
    rows.push({
      case: name,
      requests: reports.length,
      'failed (honest: false rejections; others: detected)': failed,
      'worst difference (of the largest component)': Math.max(...reports.map(report => report.worstMargin)).toExponential(2)
    })
  }
  return rows
}

// ---------------------------------------------------------------------------------------

export async function main (args: string[] = []): Promise<void> {
  const count = Number(args[0] ?? 2000)
  if (!existsSync(join(SHARED_MODELS_DIR, 'stories260K.gguf'))) throw new Error(`stories260K.gguf not found in ${SHARED_MODELS_DIR}`)
  const dir = await tempDir('dria-bench-sampler-')
  try {
    const modelsDir = join(dir.path, 'models')
    await mkdir(modelsDir)
    for (const name of SHARED) await symlink(join(SHARED_MODELS_DIR, `${name}.gguf`), join(modelsDir, `${name}.gguf`))
    await ensureGeneratedModel(modelsDir)
    const engines = await openEngines(modelsDir)
    try {
      process.stdout.write('\n### Generation throughput: dria-1 vs native sampler (same engine, 1 thread, 128 tokens)\n\n')
      printTable(await throughput(engines))

      const lines = honestLines(count)
      process.stdout.write('\n### Scoring cost per line (sequential; generation alone, then scoring it)\n\n')
      printTable(await scoringCost(engines, lines.slice(0, 160)))

      const embeddings = embeddingRequests()
      const elsewhere = await generateElsewhere(dir.path, modelsDir, lines, embeddings)
      const here = await runConcurrently(lines.length, SLOTS, async i => await generate(engines, lines[i]))
      const claims = lines.map((line, i) => claimOf(line, elsewhere.results[i]))
      const [reportsHere, reportsElsewhere] = [
        await scoreLines(engines.dria, lines, lines.map((line, i) => claimOf(line, here[i]))),
        await scoreLines(engines.dria, lines, claims)
      ]
      const differing = lines.flatMap((line, i) => line.sampler === SamplerId.DRIA && JSON.stringify(here[i]) !== JSON.stringify(elsewhere.results[i]) ? [`${line.group} (${line.request.model})`] : [])
      const dria = lines.filter(line => line.sampler === SamplerId.DRIA).length
      process.stdout.write(`\n### Honest lines (${lines.length}; dria-1 outputs identical across the two processes: ${dria - differing.length} of ${dria}${differing.length === 0 ? '' : `; differing: ${differing.join(', ')}`})\n\n`)
      printTable(honestTable(lines, reportsHere, reportsElsewhere))

      // Another model's output for the same request: the shared stories models and the random one swap.
      const swap: Record<string, string> = { stories260K: 'llama-2-tiny-random', 'llama-2-tiny-random': 'stories260K', [GENERATED_MODEL_NAME]: 'stories260K', 'stories260K-chat': 'llama-2-tiny-random' }
      const foreign = new Map<number, GenerationResult>()
      const sample = lines.flatMap((line, i) => line.request.responseFormat === undefined && i % 2 === 0 ? [i] : [])
      for (const i of sample) foreign.set(i, await generate(engines, { ...lines[i], request: { ...lines[i].request, model: swap[lines[i].request.model] } }))
      const vocab = await vocabularies(modelsDir)
      process.stdout.write('\n### Re-tokenizing the text gives the generated token ids (lines without grammar or stop strings, ended by the budget or EOS)\n\n')
      printTable(retokenization(lines, elsewhere.results, vocab))
      const seededLies = await greedyClaimedAsSeeded(engines, lines, elsewhere.results)
      const allLies = [...lies(lines, elsewhere.results, vocab, foreign), ...seededLies.lies]
      const lieReports = await runConcurrently(allLies.length, SLOTS, async i => await engines.dria.score({ kind: allLies[i].line.kind, request: allLies[i].line.request, claim: allLies[i].claim } as ScoreRequest))
      process.stdout.write(`\n### Dishonest lines (${allLies.length})\n\n`)
      printTable(lieTable(allLies, lieReports, { 'greedy line claimed as seeded': `${seededLies.coincided} greedy lines equal to the seeded output were left out` }))

      process.stdout.write('\n### Embeddings (computed in another process)\n\n')
      printTable(await embeddingTable(engines.dria, embeddings, elsewhere.vectors))

      const statistical = reportsElsewhere.filter(report => report.method === 'statistical' && report.statistics !== undefined)
      const exact = reportsElsewhere.filter((report, i) => lines[i].sampler === SamplerId.DRIA && (report.method === 'greedy' || report.method === 'seeded'))
      process.stdout.write('\n### Calibration (honest lines from the other process)\n\n')
      printTable([
        { quantity: 'dria-1 greedy/seeded worst margin (logits)', lines: exact.length, 'p99': percentile(exact.map(r => r.worstMargin), 99).toFixed(4), 'p99.9': percentile(exact.map(r => r.worstMargin), 99.9).toFixed(4), max: Math.max(...exact.map(r => r.worstMargin)).toFixed(4), 'lines with margin > 0': exact.filter(r => r.worstMargin > 0).length },
        ...((): Array<Record<string, string | number>> => {
          const caught = lieReports.filter(r => (r.method === 'greedy' || r.method === 'seeded') && r.code === 'TOKEN_NOT_SELECTED').map(r => r.worstMargin)
          return caught.length === 0 ? [] : [{ quantity: 'lies caught as TOKEN_NOT_SELECTED: margin (logits)', lines: caught.length, 'p99': `min ${Math.min(...caught).toFixed(4)}`, 'p99.9': `p1 ${percentile(caught, 1).toFixed(4)}`, max: `median ${median(caught).toFixed(2)}`, 'lines with margin > 0': '' }]
        })(),
        { quantity: 'statistical z-score', lines: statistical.length, 'p99': percentile(statistical.map(r => r.worstMargin), 99).toFixed(2), 'p99.9': percentile(statistical.map(r => r.worstMargin), 99.9).toFixed(2), max: Math.max(...statistical.map(r => r.worstMargin)).toFixed(2), 'lines with margin > 0': '' },
        { quantity: 'statistical min token probability (lowest)', lines: statistical.length, 'p99': '', 'p99.9': '', max: Math.min(...statistical.map(r => r.statistics?.minProbability ?? 1)).toExponential(2), 'lines with margin > 0': '' }
      ])
      // How the statistical test's z limit trades false rejections for detections; the lies
      // counted are those only the z-score can catch (no other check failed).
      const liesByZ = lieReports.filter(report => report.method === 'statistical' && report.statistics !== undefined && (report.verdict === 'pass' || report.detail?.includes('sigma') === true))
      const withIds = lines.flatMap((line, i) => reportsElsewhere[i].method === 'statistical' && !line.group.endsWith('no token ids') ? [reportsElsewhere[i]] : [])
      const withoutIds = lines.flatMap((line, i) => reportsElsewhere[i].method === 'statistical' && line.group.endsWith('no token ids') ? [reportsElsewhere[i]] : [])
      const rate = (reports: ScoreReport[], limit: number): string => `${(100 * reports.filter(r => r.worstMargin > limit).length / Math.max(1, reports.length)).toFixed(2)}%`
      process.stdout.write(`\n### Statistical test: z limit (honest lines with token ids: ${withIds.length}, without: ${withoutIds.length}; lies only the z-score can catch: ${liesByZ.length})\n\n`)
      printTable([2.5, 3, 3.5, 4, 5].map(limit => ({
        'z limit': limit,
        'honest rejected, token ids': rate(withIds, limit),
        'honest rejected, text only': rate(withoutIds, limit),
        'lies detected': rate(liesByZ, limit)
      })))
      for (const model of vocab.values()) await model.dispose()
    } finally {
      await engines.dria.close()
      await engines.native.close()
    }
  } finally {
    await dir.remove()
  }
}
