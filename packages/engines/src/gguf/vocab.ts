// A llama (SentencePiece-style) vocabulary: control tokens, the 256 byte-fallback tokens
// that make any text encodable, lowercase letters and punctuation, and a few merges.

/** llama.cpp token types (llama_token_type). */
const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 } as const

export const UNK_ID = 0
export const BOS_ID = 1
export const EOS_ID = 2
const FIRST_BYTE_ID = 3

/** SentencePiece writes spaces as U+2581. */
export const SPACE = '\u2581'

export const LETTERS = 'abcdefghijklmnopqrstuvwxyz'
const PUNCTUATION = ".,!?'"
/** In priority order; each is the concatenation of two earlier tokens, as SPM merging needs. */
const MERGES = [`${SPACE}t`, 'he', `${SPACE}the`, 'in', 'ing', `${SPACE}a`, 'an', 'nd', `${SPACE}and`, 'er']

export interface Vocab {
  tokens: string[]
  scores: number[]
  types: number[]
  /** Ids of the tokens the model is meant to produce (besides EOS). */
  textTokenIds: number[]
  /** Id of the normal (text) token spelled `piece`, if there is one. */
  idOf: (piece: string) => number | undefined
  /** Byte-fallback token of a byte. */
  byteId: (byte: number) => number
}

export function buildVocab (): Vocab {
  const tokens = ['<unk>', '<s>', '</s>']
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
  const scores = [0, 0, 0]
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)
    types.push(TokenType.BYTE)
    scores.push(0)
  }
  const textTokenIds: number[] = []
  for (const piece of [SPACE, ...LETTERS, ...PUNCTUATION]) {
    textTokenIds.push(tokens.length)
    tokens.push(piece)
    types.push(TokenType.NORMAL)
    scores.push(0)
  }
  // SPM merges the highest-scoring adjacent pair first.
  MERGES.forEach((piece, rank) => {
    textTokenIds.push(tokens.length)
    tokens.push(piece)
    types.push(TokenType.NORMAL)
    scores.push(-1 - rank)
  })
  const ids = new Map(tokens.map((t, id) => [t, id]))
  return {
    tokens,
    scores,
    types,
    textTokenIds,
    idOf: piece => types[ids.get(piece) ?? UNK_ID] === TokenType.NORMAL ? ids.get(piece) : undefined,
    byteId: byte => FIRST_BYTE_ID + byte
  }
}
