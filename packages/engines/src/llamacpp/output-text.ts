import type { StopSet } from './prompt.js'
import type { LlamaModel, Token } from 'node-llama-cpp'

/** What llama.cpp's detokenizer shows for an incomplete UTF-8 sequence. */
const INCOMPLETE = '\ufffd'
/** Tokens of left context the detokenizer needs to keep a token's leading space. */
const DETOKENIZER_CONTEXT = 3

/**
 * The text of an output as tokens are appended, and whether a stop string or stop token has
 * ended it. Generation and scoring both run tokens through this, so they agree on where an
 * output stops and what its text is:
 *
 * - the raw text is the detokenization of the tokens after the prompt (special tokens show
 *   no text), keeping a leading space the first token carries;
 * - the longest `ignoreStart` string the raw text starts with is not part of the answer, and
 *   stop strings are looked for after it;
 * - the output ends at the first token after which a stop string appears in the text, or at
 *   a stop token; the answer is the text up to that stop string (without the stop token).
 *
 * Each token is detokenized once, with a few tokens of left context, and the search for stop
 * strings only covers new text, so an output costs linear time.
 */
export class OutputText {
  private readonly model: LlamaModel
  private readonly stops: StopSet
  private readonly ignoreStart: string[]
  private readonly longestStop: number
  private readonly tokens: number[]
  /** Prompt tokens in front of the output: left context for its first tokens. */
  private readonly promptTail: number[]
  /** Tokens whose text can no longer change (not inside an incomplete UTF-8 sequence). */
  private settled = 0
  private settledText = ''
  private pendingText = ''
  private stopIndex?: number

  constructor (model: LlamaModel, promptTokens: number[], stops: StopSet, ignoreStart: string[]) {
    this.model = model
    this.stops = stops
    this.ignoreStart = ignoreStart
    this.longestStop = Math.max(0, ...stops.texts.map(text => text.length))
    this.promptTail = promptTokens.slice(-DETOKENIZER_CONTEXT)
    this.tokens = []
  }

  /** Whether a stop string or stop token has ended the output. */
  get stopped (): boolean {
    return this.stopIndex !== undefined
  }

  /** Appends one token; true when it ends the output. Tokens after that are ignored. */
  push (token: number): boolean {
    if (this.stopIndex !== undefined) return true
    const before = this.text()
    this.tokens.push(token)
    if (this.stops.tokens.has(token)) {
      this.stopIndex = before.length
      return true
    }
    const pending = this.tokens.slice(this.settled) as Token[]
    const context = (this.settled === 0 ? this.promptTail : this.tokens.slice(Math.max(0, this.settled - DETOKENIZER_CONTEXT), this.settled)) as Token[]
    this.pendingText = this.model.detokenize(pending, false, context)
    const text = this.text()
    // Text before the settled part's last `longestStop - 1` characters was searched already.
    const from = Math.max(this.ignoredLength(text), this.settledText.length - this.longestStop + 1, 0)
    for (const stop of this.stops.texts) {
      const index = text.indexOf(stop, from)
      if (index >= 0 && (this.stopIndex === undefined || index < this.stopIndex)) this.stopIndex = index
    }
    if (!this.pendingText.endsWith(INCOMPLETE)) {
      this.settledText = text
      this.settled = this.tokens.length
      this.pendingText = ''
    }
    return this.stopIndex !== undefined
  }

  /** The answer so far: without the ignored start, cut before the stop string; optionally without trailing whitespace. */
  answer (trimEnd = false): string {
    const text = this.text()
    const end = this.stopIndex ?? text.length
    const answer = text.slice(Math.min(this.ignoredLength(text), end), end)
    return trimEnd ? answer.trimEnd() : answer
  }

  private text (): string {
    return this.settledText + this.pendingText
  }

  private ignoredLength (text: string): number {
    let longest = 0
    for (const ignored of this.ignoreStart) if (ignored.length > longest && text.startsWith(ignored)) longest = ignored.length
    return longest
  }
}
