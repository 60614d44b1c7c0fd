import { hash } from 'node:crypto'

/** Ids up to this length are kept as they are; longer ones as their 16-byte MD5. */
const RAW_ID_MAX_LENGTH = 16

export interface IdSet {
  /** Adds `id`; false when it was already there. */
  add: (id: string) => boolean
}

/**
 * A set of custom ids whose memory does not grow with id length: a million 512-character ids
 * would otherwise take over 500 MB. Long ids are stored as their MD5 (a 16-character string):
 * an accidental collision (a false duplicate) has odds of about 1e-27 per million ids, and a
 * crafted one only fails the crafter's own file.
 */
export function createIdSet (): IdSet {
  const raw = new Set<string>()
  const hashed = new Set<string>()
  return {
    add (id) {
      const set = id.length <= RAW_ID_MAX_LENGTH ? raw : hashed
      const key = set === raw ? id : hash('md5', id, 'binary')
      if (set.has(key)) return false
      set.add(key)
      return true
    }
  }
}
