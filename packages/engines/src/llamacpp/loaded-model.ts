import { randomInt } from 'node:crypto'
import { DriaError } from '@dria/protocol'
import { resolveChatWrapper } from 'node-llama-cpp'
import { EngineErrorCode, unsupportedParameter } from '../errors.js'
import { SamplerId } from '../sampler/index.js'
import { scoreEmbeddings } from '../scoring/embedding.js'
import { generateDria, generateNative } from './generate.js'
import { sha256File } from './model-files.js'
import { assertLogitsAccess } from './native-logits.js'
import { renderChat, renderCompletion } from './prompt.js'
import { generationPlan } from './generation-plan.js'
import { scoreGeneration } from './score.js'
import { createSlotPool } from './slot-pool.js'
import type { ScoreReport, ScoreRequest } from '../scoring/types.js'
import type { ModelInfo } from '../types.js'
import type { ModelFile } from './model-files.js'
import type { RenderedPrompt } from './prompt.js'
import type { SlotPool } from './slot-pool.js'
import type {
  ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, GenerationResult, SamplingParams
} from '@dria/protocol'
import type {
  ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel
} from 'node-llama-cpp'

export interface LoadedModelInit {
  threads: number
  slots: number
  contextSize: number
  sampler: LlamaCppSampler
}

/** How the engine chooses tokens: `dria-1` (reproducible, verifiable) or node-llama-cpp's own sampler. */
export type LlamaCppSampler = typeof SamplerId.DRIA | typeof SamplerId.NATIVE

/** Seeds drawn for requests without one: any safe integer would do. */
const RANDOM_SEED_BOUND = 2 ** 48 - 1

/** What a generation context serves: one context whose sequences run requests side by side. */
interface Generator {
  context: LlamaContext
  sequences: SlotPool<LlamaContextSequence>
  /** Resolved once: auto-detection costs ~300 ms per request. */
  wrapper: ChatWrapper
}

/**
 * One GGUF model and the contexts serving it: `slots` sequences in one context for
 * generation (concurrent requests are decoded in the same batches) and, created on first
 * use, an embedding context.
 */
export class LoadedModel {
  readonly info: ModelInfo
  private readonly llama: Llama
  private readonly model: LlamaModel
  private readonly init: LoadedModelInit
  private readonly generator?: Generator
  private embedding?: Promise<LlamaEmbeddingContext>

  private constructor (llama: Llama, model: LlamaModel, info: ModelInfo, init: LoadedModelInit, generator?: Generator) {
    this.llama = llama
    this.model = model
    this.info = info
    this.init = init
    this.generator = generator
  }

  static async load (llama: Llama, file: ModelFile, init: LoadedModelInit): Promise<LoadedModel> {
    const [digest, model] = await Promise.all([sha256File(file.path), llama.loadModel({ modelPath: file.path })])
    // Encoder-only models (BERT and kin) cannot generate; they only embed.
    const kind = model.fileInsights.hasDecoder ? 'chat' : 'embedding'
    const info: ModelInfo = {
      name: file.name,
      digest,
      kind,
      architecture: model.fileInfo.metadata.general.architecture,
      contextLength: model.trainContextSize,
      sizeBytes: file.sizeBytes
    }
    if (kind === 'embedding') return new LoadedModel(llama, model, info, init)
    const context = await model.createContext({
      sequences: init.slots, threads: init.threads, contextSize: { max: init.contextSize }
    })
    const sequences = Array.from({ length: init.slots }, () => context.getSequence())
    assertLogitsAccess(sequences[0])
    const generator = { context, sequences: createSlotPool(sequences), wrapper: resolveChatWrapper(model) }
    return new LoadedModel(llama, model, { ...info, contextLength: context.contextSize }, init, generator)
  }

  async chat (request: ChatRequest, signal: AbortSignal): Promise<GenerationResult> {
    return await this.generate(request, this.render({ kind: 'chat', request }), signal)
  }

  async complete (request: CompletionRequest, signal: AbortSignal): Promise<GenerationResult> {
    return await this.generate(request, this.render({ kind: 'completion', request }), signal)
  }

  /** Verifies a claimed result for this model (see `InferenceEngine.score`). */
  async score (request: ScoreRequest, signal: AbortSignal): Promise<ScoreReport> {
    if (request.kind === 'embedding') return scoreEmbeddings(request.claim, await this.embed(request.request, signal))
    const prompt = this.render(request)
    // The seed is the request's: scoring never draws one.
    const plan = await generationPlan(this.llama, this.model, request.request, prompt, this.requireGenerator().context.contextSize, request.request.seed ?? 0)
    return await this.onSequence(signal, async sequence => await scoreGeneration(sequence, plan, request.request, request.claim, signal))
  }

  async embed (request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    const contextSize = Math.min(this.init.contextSize, this.model.trainContextSize)
    this.embedding ??= this.model.createEmbeddingContext({ threads: this.init.threads, contextSize })
    const context = await this.embedding
    const embeddings: number[][] = []
    let promptTokens = 0
    // One input at a time: the embedding context evaluates one sequence, and inputs are short.
    for (const [index, input] of request.input.entries()) {
      signal.throwIfAborted()
      const tokens = context.calculateInputLength(input)
      if (tokens >= contextSize) {
        throw new DriaError(EngineErrorCode.CONTEXT_LENGTH_EXCEEDED, `input ${index} has ${tokens} tokens, more than the model's context`, { param: `body.input[${index}]` })
      }
      embeddings.push([...(await context.getEmbeddingFor(input)).vector])
      promptTokens += tokens
    }
    return { embeddings, usage: { promptTokens, completionTokens: 0 } }
  }

  async dispose (): Promise<void> {
    await this.embedding?.then(async context => { await context.dispose() }, () => {})
    await this.generator?.context.dispose()
    await this.model.dispose()
  }

  private requireGenerator (): Generator {
    if (this.generator === undefined) {
      throw new DriaError(EngineErrorCode.MODEL_KIND_MISMATCH, `model ${this.info.name} is an embedding model`, { param: 'body.model' })
    }
    return this.generator
  }

  /** The prompt as generation evaluates it: the chat template's rendering, or the raw prompt after BOS. */
  private render (request: { kind: 'chat', request: ChatRequest } | { kind: 'completion', request: CompletionRequest }): RenderedPrompt {
    const { wrapper } = this.requireGenerator()
    return request.kind === 'chat' ? renderChat(this.model, wrapper, request.request.messages) : renderCompletion(this.model, request.request.prompt)
  }

  /**
   * Runs `work` on a free sequence (waiting for one if all are busy) and always hands the
   * sequence back cleared, so requests never see each other's tokens.
   */
  private async onSequence<T>(signal: AbortSignal, work: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const { sequences } = this.requireGenerator()
    const sequence = await sequences.acquire(signal)
    try {
      return await work(sequence)
    } finally {
      await sequence.clearHistory()
      sequences.release(sequence)
    }
  }

  private async generate (params: SamplingParams, prompt: RenderedPrompt, signal: AbortSignal): Promise<GenerationResult> {
    const { context } = this.requireGenerator()
    const plan = await generationPlan(this.llama, this.model, params, prompt, context.contextSize, params.seed ?? randomInt(RANDOM_SEED_BOUND))
    const native = this.init.sampler === SamplerId.NATIVE
    if (native && plan.logprobs !== undefined) throw unsupportedParameter('body.logprobs', 'logprobs need the dria-1 sampler')
    const output = await this.onSequence(signal, async sequence => native ? await generateNative(sequence, plan, signal) : await generateDria(sequence, plan, signal))
    const reproducible = params.seed !== undefined || plan.sampling.temperature <= 0
    return {
      text: output.text,
      finishReason: output.finishReason,
      usage: { promptTokens: prompt.tokens.length, completionTokens: output.tokens.length },
      tokens: output.tokens,
      sampler: native ? SamplerId.NATIVE : reproducible ? SamplerId.DRIA : SamplerId.DRIA_UNSEEDED,
      ...(output.logprobs === undefined ? {} : { logprobs: output.logprobs })
    }
  }
}
