import { DriaError } from '@dria/protocol'
import { LlamaChat, LlamaCompletion, resolveChatWrapper } from 'node-llama-cpp'
import { EngineErrorCode } from '../errors.js'
import { toChatHistory } from './chat-history.js'
import { sha256File } from './model-files.js'
import { generationOptions } from './sampling.js'
import { createSlotPool } from './slot-pool.js'
import type { ModelInfo } from '../types.js'
import type { ModelFile } from './model-files.js'
import type { GenerationOptions } from './sampling.js'
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
}

interface Generation {
  sequence: LlamaContextSequence
  options: GenerationOptions
  signal: AbortSignal
}

type StopReason = 'eogToken' | 'stopGenerationTrigger' | 'customStopTrigger' | 'functionCalls' | 'maxTokens' | 'abort'

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
    const generator = { context, sequences: createSlotPool(sequences), wrapper: resolveChatWrapper(model) }
    return new LoadedModel(llama, model, { ...info, contextLength: context.contextSize }, init, generator)
  }

  async chat (request: ChatRequest, signal: AbortSignal): Promise<GenerationResult> {
    const { wrapper } = this.requireGenerator()
    const history = toChatHistory(request.messages)
    // The same rendering LlamaChat evaluates, tokenized to count and budget the prompt.
    const promptTokens = wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(this.model.tokenizer).length
    return await this.generate(request, { tokens: promptTokens, param: 'body.messages' }, signal, async ({ sequence, options }) => {
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: wrapper })
      try {
        return await chat.generateResponse(history, { ...options, signal })
      } finally {
        chat.dispose({ disposeSequence: false })
      }
    })
  }

  async complete (request: CompletionRequest, signal: AbortSignal): Promise<GenerationResult> {
    this.requireGenerator()
    // LlamaCompletion prepends BOS when the model wants one, and then tokenizes the prompt as
    // text that follows it; tokenizing here the same way gives the exact prompt count.
    const bos = this.model.tokens.shouldPrependBosToken && this.model.tokens.bos !== null
    const tokens = this.model.tokenize(request.prompt, false, bos ? 'trimLeadingSpace' : undefined)
    return await this.generate(request, { tokens: tokens.length + (bos ? 1 : 0), param: 'body.prompt' }, signal, async ({ sequence, options }) => {
      const completion = new LlamaCompletion({ contextSequence: sequence })
      try {
        return await completion.generateCompletionWithMeta(tokens, { ...options, signal })
      } finally {
        completion.dispose({ disposeSequence: false })
      }
    })
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

  /**
   * Runs one generation on a free sequence (waiting for one if all are busy) and always hands
   * the sequence back cleared, so requests never see each other's tokens.
   */
  private async generate (
    params: SamplingParams,
    prompt: { tokens: number, param: string },
    signal: AbortSignal,
    run: (generation: Generation) => Promise<{ response: string, metadata: { stopReason: StopReason } }>
  ): Promise<GenerationResult> {
    const { context, sequences } = this.requireGenerator()
    const budget = context.contextSize - prompt.tokens
    if (budget <= 0) {
      throw new DriaError(EngineErrorCode.CONTEXT_LENGTH_EXCEEDED, `the prompt has ${prompt.tokens} tokens; the context holds ${context.contextSize}`, { param: prompt.param })
    }
    const options = await generationOptions(this.llama, params, budget)
    const sequence = await sequences.acquire(signal)
    try {
      const before = sequence.tokenMeter.getState()
      const { response, metadata } = await run({ sequence, options, signal })
      return {
        text: response,
        finishReason: metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
        // Each sampled token costs exactly one row of output logits.
        usage: { promptTokens: prompt.tokens, completionTokens: sequence.tokenMeter.diff(before).usedOutputTokens }
      }
    } finally {
      await sequence.clearHistory()
      sequences.release(sequence)
    }
  }
}
