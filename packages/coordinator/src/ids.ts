import { randomBytes } from 'node:crypto'

/**
 * Ids sort by creation time (a base-36 millisecond prefix), so LevelDB key order is creation
 * order: lists page with a key range and the scheduler serves older batches first.
 */
export function newId (prefix: string, now = Date.now()): string {
  const time = now.toString(36).padStart(9, '0')
  const random = randomBytes(10).toString('base64url').replace(/[-_]/g, '0').slice(0, 13)
  return `${prefix}${time}${random}`
}
