import { buildBigramModel } from './language.js'
import { createPrng } from './numeric.js'
import { BOS_ID, EOS_ID, UNK_ID, buildVocab } from './vocab.js'
import { buildTinyModelTensors } from './weights.js'
import { writeGguf } from './writer.js'
import { DEFAULT_MODEL_SEED, GENERATED_MODEL_NAME } from './constants.js'
import type { GgufValue, WrittenGguf } from './writer.js'

export interface TinyModelOptions {
  /** PRNG seed of the random layers; default `DEFAULT_MODEL_SEED`. */
  seed?: number
  /** `general.name`; default `GENERATED_MODEL_NAME`. */
  name?: string
  /** `llama.context_length`; default 512. */
  contextLength?: number
  /** Whether the model ends its texts with EOS (default true); false makes every generation run to its token budget. */
  endsText?: boolean
}

const EMBEDDING = 64
const LAYERS = 2
const HEADS = 4
const FEED_FORWARD = 128
const DEFAULT_CONTEXT_LENGTH = 512
const RMS_EPSILON = 1e-5

const CHAT_TEMPLATE = "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}" +
  "{% elif message['role'] == 'user' %}{{ 'user: ' + message['content'] + '\\n' }}" +
  "{% else %}{{ 'assistant: ' + message['content'] + '\\n' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}"

const u32 = (value: number): GgufValue => ({ type: 'uint32', value })

/**
 * Generates a small llama-architecture GGUF (≈0.5 MB, F32) whose bytes depend only on its
 * options, so independently generated copies share one digest.
 */
export async function generateTinyModel (path: string, options: TinyModelOptions = {}): Promise<WrittenGguf> {
  const vocab = buildVocab()
  const tensors = buildTinyModelTensors(
    { embedding: EMBEDDING, layers: LAYERS, heads: HEADS, feedForward: FEED_FORWARD, vocabSize: vocab.tokens.length },
    buildBigramModel(vocab, { endsText: options.endsText }),
    createPrng(options.seed ?? DEFAULT_MODEL_SEED)
  )
  return writeGguf(path, {
    metadata: {
      'general.architecture': { type: 'string', value: 'llama' },
      'general.name': { type: 'string', value: options.name ?? GENERATED_MODEL_NAME },
      'general.file_type': u32(0), // all F32
      'llama.context_length': u32(options.contextLength ?? DEFAULT_CONTEXT_LENGTH),
      'llama.embedding_length': u32(EMBEDDING),
      'llama.feed_forward_length': u32(FEED_FORWARD),
      'llama.block_count': u32(LAYERS),
      'llama.attention.head_count': u32(HEADS),
      'llama.attention.head_count_kv': u32(HEADS),
      'llama.attention.layer_norm_rms_epsilon': { type: 'float32', value: RMS_EPSILON },
      'llama.rope.dimension_count': u32(EMBEDDING / HEADS),
      'tokenizer.ggml.model': { type: 'string', value: 'llama' },
      'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: vocab.tokens },
      'tokenizer.ggml.scores': { type: 'array', itemType: 'float32', value: vocab.scores },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'int32', value: vocab.types },
      'tokenizer.ggml.unknown_token_id': u32(UNK_ID),
      'tokenizer.ggml.bos_token_id': u32(BOS_ID),
      'tokenizer.ggml.eos_token_id': u32(EOS_ID),
      'tokenizer.ggml.add_bos_token': { type: 'bool', value: true },
      'tokenizer.ggml.add_eos_token': { type: 'bool', value: false },
      'tokenizer.chat_template': { type: 'string', value: CHAT_TEMPLATE }
    },
    tensors
  })
}
