import type { Db, Sublevel } from './db.js'
import { prefixRange } from './keys.js'

export interface ListOptions {
  /** Page after this id (in the listing order). */
  after?: string
  limit: number
  order: 'asc' | 'desc'
  filter?: (record: unknown) => boolean
}

/**
 * JSON records keyed by time-sortable id, with a per-owner index so that each API key lists
 * only its own records without scanning everyone's.
 */
export class RecordStore<T extends { id: string, owner: string }> {
  readonly #db: Db
  readonly #records: Sublevel<T>
  readonly #byOwner: Sublevel<string>

  constructor (db: Db, name: string) {
    this.#db = db
    this.#records = db.sublevel<string, T>(name, { valueEncoding: 'json' })
    this.#byOwner = db.sublevel<string, string>(`${name}-by-owner`, { valueEncoding: 'utf8' })
  }

  async get (id: string): Promise<T | undefined> {
    return await this.#records.get(id)
  }

  async put (record: T): Promise<void> {
    await this.#db.batch([
      { type: 'put', sublevel: this.#records, key: record.id, value: record },
      { type: 'put', sublevel: this.#byOwner, key: `${record.owner}\x00${record.id}`, value: '' }
    ])
  }

  async delete (record: T): Promise<void> {
    await this.#db.batch([
      { type: 'del', sublevel: this.#records, key: record.id },
      { type: 'del', sublevel: this.#byOwner, key: `${record.owner}\x00${record.id}` }
    ])
  }

  /** One page of an owner's records, plus whether more follow. */
  async list (owner: string, options: ListOptions): Promise<{ data: T[], hasMore: boolean }> {
    const range: { gt?: string, lt?: string } = prefixRange(owner)
    if (options.after !== undefined) {
      if (options.order === 'desc') range.lt = `${owner}\x00${options.after}`
      else range.gt = `${owner}\x00${options.after}`
    }
    const data: T[] = []
    for await (const key of this.#byOwner.keys({ ...range, reverse: options.order === 'desc' })) {
      const record = await this.#records.get(key.slice(owner.length + 1))
      if (record === undefined || (options.filter !== undefined && !options.filter(record))) continue
      if (data.length === options.limit) return { data, hasMore: true }
      data.push(record)
    }
    return { data, hasMore: false }
  }

  /** An owner's records, newest first (ids sort by creation time). */
  async * newest (owner: string): AsyncGenerator<T> {
    for await (const key of this.#byOwner.keys({ ...prefixRange(owner), reverse: true })) {
      const record = await this.#records.get(key.slice(owner.length + 1))
      if (record !== undefined) yield record
    }
  }

  async * all (): AsyncGenerator<T> {
    yield * this.#records.values()
  }
}
