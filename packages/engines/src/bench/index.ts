import type { InferenceEngine } from '../types.js'

export interface MeasureOptions {
  /** Tokens to generate (default 64). */
  maxTokens?: number
  /** Raw completion prompt (default: a story opening most models continue). */
  prompt?: string
}

const DEFAULT_BENCH_TOKENS = 64
const DEFAULT_BENCH_PROMPT = 'Once upon a time'

/**
 * Single-sequence generation speed of `model` in tokens per second: one greedy completion,
 * timed end to end (prompt included), so it is what one task sees. 0 when nothing was generated.
 */
export async function measureTokensPerSecond (engine: InferenceEngine, model: string, options: MeasureOptions = {}): Promise<number> {
  const started = performance.now()
  const result = await engine.complete({
    model,
    prompt: options.prompt ?? DEFAULT_BENCH_PROMPT,
    maxTokens: options.maxTokens ?? DEFAULT_BENCH_TOKENS,
    temperature: 0
  })
  const seconds = (performance.now() - started) / 1000
  return result.usage.completionTokens === 0 ? 0 : result.usage.completionTokens / seconds
}
