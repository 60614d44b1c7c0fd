import type { BigramModel } from './language.js'
import type { GgufTensor } from './writer.js'

export interface TinyModelShape {
  embedding: number
  layers: number
  heads: number
  feedForward: number
  vocabSize: number
}

/** Logit of tokens the model should never produce (control and byte tokens). */
const NEVER_LOGIT = -30
/** Logit penalty per unit of a character's share of the context: breaks greedy loops. */
const REPETITION_PENALTY = 8
const EMBEDDING_NOISE = 0.1
const LAYER_SCALE = 0.5
const OUTPUT_NOISE = 0.1

/**
 * Hand-set llama weights, no training. Residual stream layout:
 * - dim 0 is 1 in every embedding: through output.weight it acts as an output bias;
 * - `context` dims one-hot the current token's context, and output.weight holds the bigram
 *   log-probabilities there, so the next-token distribution starts as the corpus bigram;
 * - `recent` dims: the first heads of layer 0 attend uniformly (zero queries) to every
 *   position and copy the context one-hot, so they hold each character's share of the text
 *   so far, which output.weight turns into a repetition penalty;
 * - `free` dims take the seeded random heads and FFNs: context-dependent variation.
 * With 29 contexts that is 1 + 29 + 29 dims of 64, and 2 of 4 heads copy.
 */
export function buildTinyModelTensors (shape: TinyModelShape, bigram: BigramModel, random: () => number): GgufTensor[] {
  const { embedding, feedForward, vocabSize } = shape
  const headDim = embedding / shape.heads
  const CONTEXT = 1
  const RECENT = CONTEXT + bigram.contexts
  const FREE = RECENT + bigram.contexts
  const copyRows = Math.ceil(bigram.contexts / headDim) * headDim
  // An embedding has two dims at 1 and little noise: RMS norm scales them by sqrt(embedding / 2).
  const normScale = Math.sqrt(embedding / 2)

  const uniform = (scale: number): number => (random() * 2 - 1) * scale
  const randomWeight = (inputs: number): number => uniform(LAYER_SCALE * 2 / Math.sqrt(inputs))
  const tensor = (name: string, dims: [number, number?], fill: (row: number, col: number) => number): GgufTensor => {
    const [cols, rows] = dims
    const data = new Float32Array(cols * (rows ?? 1))
    for (let r = 0; r < (rows ?? 1); r++) for (let c = 0; c < cols; c++) data[r * cols + c] = fill(r, c)
    return { name, shape: rows === undefined ? [cols] : [cols, rows], data }
  }
  const ones = (name: string): GgufTensor => tensor(name, [embedding], () => 1)

  const tensors: GgufTensor[] = [
    tensor('token_embd.weight', [embedding, vocabSize], (token, dim) => {
      if (dim === 0 || dim === CONTEXT + bigram.contextOf[token]) return 1
      return dim >= FREE ? uniform(EMBEDDING_NOISE) : 0
    }),
    ones('output_norm.weight'),
    tensor('output.weight', [embedding, vocabSize], (token, dim) => {
      const produced = bigram.produces(token)
      if (dim === 0) return produced ? 0 : NEVER_LOGIT / normScale
      if (dim < RECENT) return produced ? bigram.logProb(dim - CONTEXT, token) / normScale : 0
      if (dim < FREE) return produced && dim - RECENT === bigram.contextOf[token] ? -REPETITION_PENALTY / normScale : 0
      return uniform(OUTPUT_NOISE)
    })
  ]
  for (let layer = 0; layer < shape.layers; layer++) {
    const blk = `blk.${layer}`
    const copying = (row: number): boolean => layer === 0 && row < copyRows
    tensors.push(
      ones(`${blk}.attn_norm.weight`),
      tensor(`${blk}.attn_q.weight`, [embedding, embedding], row => copying(row) ? 0 : randomWeight(embedding)),
      tensor(`${blk}.attn_k.weight`, [embedding, embedding], () => randomWeight(embedding)),
      tensor(`${blk}.attn_v.weight`, [embedding, embedding], (row, col) => {
        if (!copying(row)) return randomWeight(embedding)
        return row < bigram.contexts && col === CONTEXT + row ? 1 / normScale : 0
      }),
      tensor(`${blk}.attn_output.weight`, [embedding, embedding], (row, col) => {
        if (row >= FREE) return copying(col) ? 0 : randomWeight(embedding)
        return row >= RECENT && copying(col) && col === row - RECENT ? 1 : 0
      }),
      ones(`${blk}.ffn_norm.weight`),
      tensor(`${blk}.ffn_gate.weight`, [embedding, feedForward], () => randomWeight(embedding)),
      tensor(`${blk}.ffn_up.weight`, [embedding, feedForward], () => randomWeight(embedding)),
      tensor(`${blk}.ffn_down.weight`, [feedForward, embedding], row => row >= FREE ? randomWeight(feedForward) : 0)
    )
  }
  return tensors
}
