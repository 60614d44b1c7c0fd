import { randomBytes } from 'node:crypto'
import { newId } from '../ids.js'
import type { PlanName } from './plans.js'

export interface ApiKeyRecord {
  id: string
  object: 'api_key'
  name: string
  plan: PlanName
  created_at: number
  /** First characters of the key, to tell keys apart in listings. */
  prefix: string
  /** Keyed hash of the key (see Keyring.hashKey); the key itself is never stored. */
  hash: string
}

/**
 * API keys created through the admin API, stored as keyed hashes, and the owner ids of static
 * keys (DRIA_API_KEYS): random ids, so that no stored record leads back to its key.
 */
export interface KeyStore {
  /** The owner id of the static key with this hash; `created` on its first use. */
  staticOwner(hash: string): Promise<{ owner: string, created: boolean }>
  /** Moves a key to a new hash (records written before keyed hashing). */
  rehash(record: ApiKeyRecord, hash: string): Promise<ApiKeyRecord>
  /** Creates a key; the returned secret is shown once and never again. */
  create(name: string, plan: PlanName, hash: (key: string) => string): Promise<{ record: ApiKeyRecord, key: string }>
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>
  list(): Promise<ApiKeyRecord[]>
  revoke(id: string): Promise<ApiKeyRecord | undefined>
}

/** A new secret key and its record (what every KeyStore's `create` stores). */
export function newApiKey (name: string, plan: PlanName, hash: (key: string) => string): { record: ApiKeyRecord, key: string } {
  const key = `sk-dria-${randomBytes(24).toString('base64url')}`
  const record: ApiKeyRecord = {
    id: newId('key_'),
    object: 'api_key',
    name,
    plan,
    created_at: Math.floor(Date.now() / 1000),
    prefix: key.slice(0, 12),
    hash: hash(key)
  }
  return { record, key }
}
