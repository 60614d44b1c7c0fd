// The generated model is a character-level bigram model of this little corpus with seeded
// random layers on top: it writes word-like lowercase text and sometimes ends with EOS,
// which makes demos and tests read better than uniform noise.
import { ln } from './numeric.js'
import { EOS_ID, LETTERS, SPACE } from './vocab.js'
import type { Vocab } from './vocab.js'

const CORPUS = [
  'the sun was up and the birds sang in the trees. a small fox ran to the river to drink. it saw a fish and the fish saw it too.',
  'she had a red ball and a blue kite. every day she went to the park with her dog. they ran and played until the sky was dark.',
  'the old man sat by the fire and told a story. it was about a ship that sailed over the sea to find a land of gold.',
  'we can share the work. one node runs a model, another checks the answer, and the network keeps going when a peer is gone.',
  'it is a good day to learn something new. read a book, write a line, and ask a friend what they think of it.',
  'the cat was hungry, so it went looking for milk. it found a bowl on the table and was very happy!',
  'where is the little boat? it is on the lake, near the green hill where the rabbits live.',
  'rain fell on the town all night. in the morning the streets were bright and clean, and the children went out to play.',
  'he opened the door and said hello. his sister smiled, then she gave him a warm cup of tea and a piece of bread.',
  'can you hear the wind? it sings in the grass and moves the clouds across the sky.'
]

const SMOOTHING = 0.02

export interface BigramModel {
  /** Number of contexts; a token's context is (mostly) the last character it ends with. */
  contexts: number
  /** Context index of every token id. */
  contextOf: Int32Array
  /** Whether the corpus model ever produces the token: text tokens and EOS. */
  produces: (token: number) => boolean
  /** Smoothed ln P(token | context), for tokens it produces. */
  logProb: (context: number, token: number) => number
}

/** Greedy longest match: close enough to SPM merging for counting statistics. */
function tokenize (vocab: Vocab, text: string): number[] {
  const chars = [...(SPACE + text.replaceAll(' ', SPACE))]
  const ids: number[] = []
  for (let i = 0; i < chars.length;) {
    for (let len = Math.min(4, chars.length - i); len > 0; len--) {
      const id = vocab.idOf(chars.slice(i, i + len).join(''))
      if (id !== undefined) { ids.push(id); i += len; break }
      // Like SPM: a character without a token becomes its UTF-8 bytes.
      if (len === 1) { ids.push(...[...Buffer.from(chars[i])].map(vocab.byteId)); i++ }
    }
  }
  return ids
}

const CONTEXT_CHARS = [SPACE, ...LETTERS, '.', ',']
/** Characters that behave like another one; the rest of the vocabulary behaves like ','. */
const SAME_CONTEXT: Record<string, string> = { ' ': SPACE, '!': '.', '?': '.' }

/** `endsText: false` leaves EOS out of what the model produces: its texts run to the token budget. */
export function buildBigramModel (vocab: Vocab, options: { endsText?: boolean } = {}): BigramModel {
  const contextOfChar = new Map(CONTEXT_CHARS.map((char, context) => [char, context]))
  const contextOf = new Int32Array(vocab.tokens.length).fill(CONTEXT_CHARS.indexOf(','))
  vocab.tokens.forEach((token, id) => {
    const byte = /^<0x([0-9A-F]{2})>$/.exec(token)
    const char = byte === null ? [...token].at(-1) as string : String.fromCharCode(parseInt(byte[1], 16))
    const context = contextOfChar.get(SAME_CONTEXT[char] ?? char.toLowerCase())
    if (context !== undefined) contextOf[id] = context
  })

  const produced = options.endsText === false ? vocab.textTokenIds : [...vocab.textTokenIds, EOS_ID]
  const counts = CONTEXT_CHARS.map(() => new Map(produced.map(id => [id, 0])))
  for (const doc of CORPUS) {
    const ids = [...tokenize(vocab, doc), EOS_ID]
    for (let i = 1; i < ids.length; i++) {
      const row = counts[contextOf[ids[i - 1]]]
      const count = row.get(ids[i])
      if (count !== undefined) row.set(ids[i], count + 1)
    }
  }
  const logProbs = counts.map(row => {
    let total = 0
    for (const c of row.values()) total += c
    const denominator = total + SMOOTHING * row.size
    return new Map([...row].map(([id, c]) => [id, ln((c + SMOOTHING) / denominator)]))
  })
  return {
    contexts: CONTEXT_CHARS.length,
    contextOf,
    produces: token => logProbs[0].has(token),
    logProb: (context, token) => logProbs[context].get(token) as number
  }
}
