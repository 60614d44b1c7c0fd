import type { BatchOp, Db, Sublevel } from './db.js'
import type { ListOptions, RecordStore } from '../interfaces.js'
import { INDEX_VALUE, prefixRange } from './keys.js'

export interface RecordStoreInit<T> {
  /**
   * A field records are also looked up by, per owner (a batch's input file). It must not
   * change once a record is stored.
   */
  ref?: (record: T) => string
}

/**
 * RecordStore on LevelDB: a per-owner index so that each API key lists only its own records
 * without scanning everyone's, and optionally a per-owner index by `ref`.
 */
export class LevelRecordStore<T extends { id: string, owner: string }> implements RecordStore<T> {
  readonly #db: Db
  readonly #name: string
  readonly #records: Sublevel<T>
  readonly #byOwner: Sublevel<string>
  readonly #byRef: Sublevel<string>
  readonly #ref?: (record: T) => string

  constructor (db: Db, name: string, init: RecordStoreInit<T> = {}) {
    this.#db = db
    this.#name = name
    this.#records = db.sublevel<string, T>(name, { valueEncoding: 'json' })
    this.#byOwner = db.sublevel<string, string>(`${name}-by-owner`, { valueEncoding: 'utf8' })
    this.#byRef = db.sublevel<string, string>(`${name}-by-ref`, { valueEncoding: 'utf8' })
    this.#ref = init.ref
  }

  #indexOps (record: T, owner: string, type: 'put' | 'del'): BatchOp[] {
    const ops: BatchOp[] = [type === 'put'
      ? { type, sublevel: this.#byOwner, key: `${owner}\x00${record.id}`, value: INDEX_VALUE }
      : { type, sublevel: this.#byOwner, key: `${owner}\x00${record.id}` }]
    if (this.#ref !== undefined) {
      const key = `${owner}\x00${this.#ref(record)}\x00${record.id}`
      ops.push(type === 'put' ? { type, sublevel: this.#byRef, key, value: INDEX_VALUE } : { type, sublevel: this.#byRef, key })
    }
    return ops
  }

  async get (id: string): Promise<T | undefined> {
    return await this.#records.get(id)
  }

  async put (record: T): Promise<void> {
    await this.#db.batch([
      { type: 'put', sublevel: this.#records, key: record.id, value: record },
      ...this.#indexOps(record, record.owner, 'put')
    ])
  }

  async delete (record: T): Promise<void> {
    await this.#db.batch([
      { type: 'del', sublevel: this.#records, key: record.id },
      ...this.#indexOps(record, record.owner, 'del')
    ])
  }

  /** The owner's records whose `ref` is `value`, oldest first. */
  async findByRef (owner: string, value: string): Promise<T[]> {
    const found: T[] = []
    for await (const key of this.#byRef.keys(prefixRange(owner, value))) {
      const record = await this.#records.get(key.slice(key.lastIndexOf('\x00') + 1))
      if (record !== undefined) found.push(record)
    }
    return found
  }

  /** Builds the `ref` index once for records stored before it existed. */
  async ensureRefIndex (): Promise<void> {
    if (this.#ref === undefined) return
    const marker = this.#db.sublevel<string, string>('store-meta', { valueEncoding: 'utf8' })
    const name = `${this.#name}-by-ref`
    if (await marker.get(name) !== undefined) return
    for await (const record of this.all()) await this.#db.batch(this.#indexOps(record, record.owner, 'put'))
    await marker.put(name, '1')
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

  /** Gives every record of `from` to `to` (owner ids that changed); returns how many moved. */
  async reassign (from: string, to: string): Promise<number> {
    let moved = 0
    for await (const record of this.newest(from)) {
      await this.#db.batch([
        { type: 'put', sublevel: this.#records, key: record.id, value: { ...record, owner: to } },
        ...this.#indexOps(record, from, 'del'),
        ...this.#indexOps(record, to, 'put')
      ])
      moved++
    }
    return moved
  }
}
