import { newApiKey } from '../../accounts/key-store.js'
import type { ApiKeyRecord, KeyStore } from '../../accounts/key-store.js'
import type { PlanName } from '../../accounts/plans.js'
import { newId } from '../../ids.js'
import type { Db, Sublevel } from './db.js'

/** KeyStore on LevelDB: records by id, an index by hash, static owners by hash. */
export class LevelKeyStore implements KeyStore {
  readonly #db: Db
  readonly #keys: Sublevel<ApiKeyRecord>
  readonly #byHash: Sublevel<string>
  readonly #staticOwners: Sublevel<string>

  constructor (db: Db) {
    this.#db = db
    this.#keys = db.sublevel<string, ApiKeyRecord>('api-keys', { valueEncoding: 'json' })
    this.#byHash = db.sublevel<string, string>('api-key-hashes', { valueEncoding: 'utf8' })
    this.#staticOwners = db.sublevel<string, string>('static-key-owners', { valueEncoding: 'utf8' })
  }

  /** The owner id of the static key with this hash; `created` on its first use. */
  async staticOwner (hash: string): Promise<{ owner: string, created: boolean }> {
    const known = await this.#staticOwners.get(hash)
    if (known !== undefined) return { owner: known, created: false }
    const owner = newId('key_')
    await this.#staticOwners.put(hash, owner)
    return { owner, created: true }
  }

  /** Moves a key to a new hash (records written before keyed hashing). */
  async rehash (record: ApiKeyRecord, hash: string): Promise<ApiKeyRecord> {
    const next = { ...record, hash }
    await this.#db.batch([
      { type: 'put', sublevel: this.#keys, key: record.id, value: next },
      { type: 'del', sublevel: this.#byHash, key: record.hash },
      { type: 'put', sublevel: this.#byHash, key: hash, value: record.id }
    ])
    return next
  }

  /** Creates a key; the returned secret is shown once and never again. */
  async create (name: string, plan: PlanName, hash: (key: string) => string): Promise<{ record: ApiKeyRecord, key: string }> {
    const { record, key } = newApiKey(name, plan, hash)
    await this.#db.batch([
      { type: 'put', sublevel: this.#keys, key: record.id, value: record },
      { type: 'put', sublevel: this.#byHash, key: record.hash, value: record.id }
    ])
    return { record, key }
  }

  async findByHash (hash: string): Promise<ApiKeyRecord | undefined> {
    const id = await this.#byHash.get(hash)
    return id === undefined ? undefined : await this.#keys.get(id)
  }

  async list (): Promise<ApiKeyRecord[]> {
    return await this.#keys.values().all()
  }

  async revoke (id: string): Promise<ApiKeyRecord | undefined> {
    const record = await this.#keys.get(id)
    if (record === undefined) return undefined
    await this.#db.batch([
      { type: 'del', sublevel: this.#keys, key: id },
      { type: 'del', sublevel: this.#byHash, key: record.hash }
    ])
    return record
  }
}
