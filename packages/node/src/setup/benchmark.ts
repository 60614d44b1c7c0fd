import { measureTokensPerSecond } from '@dria/engines'
import type { InferenceEngine } from '@dria/engines'

export interface ModelBenchmark {
  name: string
  kind: 'chat' | 'embedding'
  digest: string
  /** Median single-sequence speed over the rounds (tokens/s); 0 for embedding models, which are not measured. */
  tokensPerSecond: number
  min: number
  max: number
  rounds: number
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Measures every model of the engine `rounds` times, one model after another so they do not
 * compete for the cores, and reports the median (the machine may be busy with other work).
 */
export async function benchmarkModels (engine: InferenceEngine, rounds: number): Promise<ModelBenchmark[]> {
  const results: ModelBenchmark[] = []
  for (const info of await engine.listModels()) {
    if (info.kind === 'embedding') {
      results.push({ name: info.name, kind: info.kind, digest: info.digest, tokensPerSecond: 0, min: 0, max: 0, rounds: 0 })
      continue
    }
    const speeds: number[] = []
    for (let round = 0; round < rounds; round++) speeds.push(await measureTokensPerSecond(engine, info.name))
    results.push({ name: info.name, kind: info.kind, digest: info.digest, tokensPerSecond: median(speeds), min: Math.min(...speeds), max: Math.max(...speeds), rounds })
  }
  return results
}
