import { randomBytes } from 'node:crypto'

let lastTime = 0

/**
 * Ids sort by creation time (a base-36 millisecond prefix), so LevelDB key order is creation
 * order: lists page with a key range and the scheduler serves older batches first. Ids made
 * within one millisecond would be ordered by their random part, so the prefix steps at least
 * one millisecond past the previous id's.
 */
export function newId (prefix: string, now = Date.now()): string {
  lastTime = Math.max(now, lastTime + 1)
  const time = lastTime.toString(36).padStart(9, '0')
  const random = randomBytes(10).toString('base64url').replace(/[-_]/g, '0').slice(0, 13)
  return `${prefix}${time}${random}`
}
