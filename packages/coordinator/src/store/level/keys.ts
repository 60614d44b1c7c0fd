/**
 * LevelDB key layout. \x00 separates parts because neither ids nor the index contain it,
 * and it sorts before every printable character, so a `prefix + \x00` range holds exactly
 * the rows of one batch.
 */
const SEP = '\x00'
const INDEX_WIDTH = 10

export function taskKey (batchId: string, index: number): string {
  return `${batchId}${SEP}${index.toString().padStart(INDEX_WIDTH, '0')}`
}

/** Pending tasks are indexed per batch and model: the scheduler pulls per-model queues. */
export function pendingKey (batchId: string, model: string, index: number): string {
  return `${batchId}${SEP}${model}${SEP}${index.toString().padStart(INDEX_WIDTH, '0')}`
}

export function indexFromKey (key: string): number {
  return Number(key.slice(key.lastIndexOf(SEP) + 1))
}

/**
 * gt/lt bounds covering every key that starts with the given parts. The upper bound replaces
 * the trailing \x00 with \x01 rather than appending \xff: keys are compared as UTF-8 bytes,
 * and any character above U+00FF (a model name like 'モデル') encodes above '\xff'.
 */
export function prefixRange (...parts: string[]): { gt: string, lt: string } {
  const prefix = parts.join(SEP)
  return { gt: prefix + SEP, lt: prefix + '\x01' }
}

/**
 * The value of index entries (their key is what matters). Never empty: classic-level 3.0
 * allocates a byte for an empty value and does not free it, so every empty put leaked ~32
 * bytes (5M index entries: ~150 MB of native memory, for the life of the process).
 */
export const INDEX_VALUE = '1'
