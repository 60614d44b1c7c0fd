import { createHash } from 'node:crypto'
import { DEFAULT_MAX_TOKENS, DriaError } from '@dria/protocol'
import type {
  ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, GenerationResult, SamplingParams
} from '@dria/protocol'
import type { CallOptions, InferenceEngine, ModelInfo, ScoreReport } from '@dria/engines'

export interface SyntheticModel {
  name: string
  /** Default: sha256 of the name, like a file digest. */
  digest?: string
  kind?: 'chat' | 'embedding'
}

export interface SyntheticEngineInit {
  models: SyntheticModel[]
  /** Generation speed of one call (tokens per second); 0 answers at once. Default 0. */
  tokensPerSecond?: number
  /** Scoring a claim costs this share of generating it. Default 0.3. */
  scoreCost?: number
}

const WORDS = 'the a cat dog ran sat on mat big small red blue sun moon tree house went home happy sad little girl boy named lily tom and then saw bird fish water play day night'.split(' ')
/** Its results are reproducible from the seed and checkable like the real dria-1 sampler's. */
export const SYNTHETIC_SAMPLER = 'dria-1'

/** FNV-1a: cheap, so a synthetic node's CPU goes to the protocol, which is what benchmarks measure. */
function hash32 (...parts: Array<string | number>): number {
  let hash = 0x811c9dc5
  const text = parts.join('\u0000')
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

function promptOf (request: ChatRequest | CompletionRequest): string {
  return 'messages' in request ? request.messages.map(m => `${m.role}:${m.content}`).join('\n') : request.prompt
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  if (ms <= 0) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms)
    function done (): void {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    function onAbort (): void {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A deterministic stand-in for an inference engine, for scheduling tests and benchmarks only:
 * the text is a pure function of (model, prompt, seed, temperature), every call generates its
 * full `max_tokens` at a configured rate, and `score()` checks a claim by recomputing it. It
 * lets several "nodes" with capacities of 1:2:4 run on a 2-core machine, and it verifies like
 * a real engine so the coordinator's checks run too.
 */
export function createSyntheticEngine (init: SyntheticEngineInit): InferenceEngine {
  const models = new Map(init.models.map(m => [m.name, {
    name: m.name,
    digest: m.digest ?? `sha256:${createHash('sha256').update(m.name).digest('hex')}`,
    kind: m.kind ?? 'chat',
    contextLength: 4096
  } satisfies ModelInfo]))
  const tokensPerSecond = init.tokensPerSecond ?? 0
  const scoreCost = init.scoreCost ?? 0.3
  let controller = new AbortController()

  const msFor = (tokens: number): number => tokensPerSecond > 0 ? tokens / tokensPerSecond * 1000 : 0

  function model (name: string): ModelInfo {
    const found = models.get(name)
    if (found === undefined) throw new DriaError('MODEL_NOT_FOUND', `model ${name} is not available`, { param: 'body.model' })
    return found
  }

  function generateText (request: ChatRequest | CompletionRequest, params: SamplingParams): GenerationResult {
    const prompt = promptOf(request)
    const seed = (params.temperature ?? 1) === 0 ? 0 : (params.seed ?? 0)
    const count = params.maxTokens ?? DEFAULT_MAX_TOKENS
    const base = hash32(request.model, prompt, seed)
    const tokens = Array.from({ length: count }, (_, i) => hash32(base, i) % WORDS.length)
    return {
      text: tokens.map(t => WORDS[t]).join(' '),
      finishReason: 'length',
      usage: { promptTokens: prompt.split(/\s+/).length, completionTokens: count },
      tokens,
      sampler: SYNTHETIC_SAMPLER
    }
  }

  async function generate (request: ChatRequest | CompletionRequest, options?: CallOptions): Promise<GenerationResult> {
    model(request.model)
    const result = generateText(request, request)
    await sleep(msFor(result.usage.completionTokens), AbortSignal.any([controller.signal, ...(options?.signal === undefined ? [] : [options.signal])]))
      .catch(err => { throw new DriaError('ENGINE_ABORTED', 'inference call aborted', { retryable: true, cause: err }) })
    return result
  }

  function embedText (request: EmbeddingRequest): EmbeddingResult {
    return {
      embeddings: request.input.map(text => Array.from({ length: 8 }, (_, i) => (hash32(request.model, text, i) % 2000) / 1000 - 1)),
      usage: { promptTokens: request.input.reduce((sum, text) => sum + text.split(/\s+/).length, 0), completionTokens: 0 }
    }
  }

  return {
    name: 'llamacpp',
    async listModels () { return [...models.values()] },
    chat: generate,
    complete: generate,
    async embed (request) {
      model(request.model)
      return embedText(request)
    },
    async score (input, options): Promise<ScoreReport> {
      model(input.request.model)
      if (input.kind === 'embedding') {
        const expected = embedText(input.request)
        const same = JSON.stringify(expected.embeddings) === JSON.stringify(input.claim.embeddings)
        return { verdict: same ? 'pass' : 'fail', method: 'embedding', worstMargin: 0, ...(same ? {} : { code: 'EMBEDDING_MISMATCH' }), usage: expected.usage }
      }
      const { request, claim } = input
      const expected = generateText(request, request)
      await sleep(msFor(expected.usage.completionTokens) * scoreCost, options?.signal)
      const method = (request.temperature ?? 1) === 0 ? 'greedy' : 'seeded'
      const usageOk = claim.usage === undefined || (claim.usage.promptTokens === expected.usage.promptTokens && claim.usage.completionTokens === expected.usage.completionTokens)
      const same = claim.text === expected.text && (claim.tokens === undefined || JSON.stringify(claim.tokens) === JSON.stringify(expected.tokens))
      const code = !same ? 'TOKEN_NOT_SELECTED' : !usageOk ? 'USAGE_MISMATCH' : undefined
      return { verdict: code === undefined ? 'pass' : 'fail', method, worstMargin: 0, ...(code === undefined ? {} : { code }), usage: expected.usage }
    },
    abort () {
      controller.abort()
      controller = new AbortController()
    },
    async close () {
      controller.abort()
    }
  }
}
