import { LlamaText, SpecialToken, SpecialTokensText } from 'node-llama-cpp'
import { toChatHistory } from './chat-history.js'
import type { ChatMessage } from '@dria/protocol'
import type { ChatWrapper, LlamaGrammar, LlamaModel, Token } from 'node-llama-cpp'

/** What ends an output besides end-of-generation tokens and the token budget. */
export interface StopSet {
  /** Strings whose first appearance in the text ends it; the text is cut before them. */
  texts: string[]
  /** Special tokens that end it (a template's end-of-turn marker). */
  tokens: Set<number>
}

/**
 * A prompt exactly as the engine evaluates it: a generator and a verifier render requests
 * with this one function, or honest outputs do not score as what the model produces.
 */
export interface RenderedPrompt {
  tokens: number[]
  /** The request field the prompt comes from (for CONTEXT_LENGTH_EXCEEDED). */
  param: 'body.messages' | 'body.prompt'
  /** The chat template's own stop triggers. */
  stops: StopSet
  /** Texts the template's answers never start with (leading whitespace), removed from the answer. */
  ignoreStart: string[]
}

type Trigger = LlamaText | string | readonly (string | Token)[]

/** Adds one node-llama-cpp stop trigger: a lone special token stops as that token, anything else as its text. */
function addTrigger (model: LlamaModel, trigger: Trigger, stops: StopSet): void {
  const values = typeof trigger === 'string' ? [trigger] : LlamaText.isLlamaText(trigger) ? trigger.values : trigger
  let text = ''
  for (const value of values) {
    if (typeof value === 'string') text += value
    else if (value instanceof SpecialTokensText) {
      text += value.value
      // "<end>"-style markers may be one control token whose text never shows in the output.
      const tokens = value.tokenize(model.tokenizer)
      if (tokens.length === 1 && model.isSpecialToken(tokens[0])) stops.tokens.add(tokens[0])
    } else if (value instanceof SpecialToken) {
      if (values.length === 1) for (const token of value.tokenize(model.tokenizer)) stops.tokens.add(token)
    } else if (values.length === 1) {
      stops.tokens.add(value)
    }
  }
  if (text !== '' && !stops.texts.includes(text)) stops.texts.push(text)
}

/** The template's stops, plus the grammar's and the request's `stop` strings (empty ones ignored). */
export function stopSet (model: LlamaModel, prompt: RenderedPrompt, grammar: LlamaGrammar | undefined, stop: string[] | undefined): StopSet {
  const stops: StopSet = { texts: [...prompt.stops.texts], tokens: new Set(prompt.stops.tokens) }
  for (const trigger of grammar?.stopGenerationTriggers ?? []) addTrigger(model, trigger, stops)
  for (const text of stop ?? []) if (text !== '') addTrigger(model, text, stops)
  return stops
}

/** The chat template's rendering of `messages`, ending with the open model turn. */
export function renderChat (model: LlamaModel, wrapper: ChatWrapper, messages: ChatMessage[]): RenderedPrompt {
  const state = wrapper.generateContextState({ chatHistory: toChatHistory(messages) })
  const stops: StopSet = { texts: [], tokens: new Set() }
  for (const trigger of state.stopGenerationTriggers) addTrigger(model, trigger, stops)
  return {
    tokens: state.contextText.tokenize(model.tokenizer),
    param: 'body.messages',
    stops,
    ignoreStart: (state.ignoreStartText ?? []).map(text => text.toString()).filter(text => text !== '')
  }
}

/**
 * A raw prompt as a completion continues it: BOS when the model wants one, then the prompt
 * tokenized as text that follows it.
 */
export function renderCompletion (model: LlamaModel, prompt: string): RenderedPrompt {
  const bos = model.tokens.shouldPrependBosToken ? model.tokens.bos : null
  const tokens = model.tokenize(prompt, false, bos === null ? undefined : 'trimLeadingSpace')
  return {
    tokens: bos === null ? tokens : [bos, ...tokens],
    param: 'body.prompt',
    stops: { texts: [], tokens: new Set() },
    ignoreStart: []
  }
}
