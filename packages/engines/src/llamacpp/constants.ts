import { availableParallelism } from 'node:os'

/** Parallel sequences per model: requests beyond this wait for a free one. */
export const DEFAULT_SLOTS = 4

/** Upper bound on each sequence's context, in tokens; a model's training context caps it further. */
export const DEFAULT_CONTEXT_SIZE = 4096

/** Never more threads than this: tiny models gain nothing from more. */
export const MAX_DEFAULT_THREADS = 8

/**
 * Half the cores, at least one. ggml's worker threads spin while they wait for each other,
 * so threads competing for cores with other processes collapse throughput (4 threads on a
 * busy 2-core machine ran ~1000× slower than 1).
 */
export function defaultThreads (): number {
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, Math.floor(availableParallelism() / 2)))
}
