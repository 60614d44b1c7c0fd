import type pg from 'pg'
import type { ListOptions, RecordStore } from '../interfaces.js'

/** Rows read per query while scanning (listings with a filter, iteration). */
const PAGE = 500

/** RecordStore on PostgreSQL: one `records` table, `kind` naming the store. */
export class PostgresRecordStore<T extends { id: string, owner: string }> implements RecordStore<T> {
  readonly #pool: pg.Pool
  readonly #kind: string
  readonly #ref?: (record: T) => string

  constructor (pool: pg.Pool, kind: string, init: { ref?: (record: T) => string } = {}) {
    this.#pool = pool
    this.#kind = kind
    this.#ref = init.ref
  }

  async get (id: string): Promise<T | undefined> {
    const { rows } = await this.#pool.query<{ data: T }>('SELECT data FROM records WHERE kind = $1 AND id = $2', [this.#kind, id])
    return rows[0]?.data
  }

  async put (record: T): Promise<void> {
    await this.#pool.query(
      `INSERT INTO records (kind, id, owner, ref, data) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, ref = excluded.ref, data = excluded.data`,
      [this.#kind, record.id, record.owner, this.#ref?.(record) ?? null, JSON.stringify(record)])
  }

  async delete (record: T): Promise<void> {
    await this.#pool.query('DELETE FROM records WHERE kind = $1 AND id = $2', [this.#kind, record.id])
  }

  async findByRef (owner: string, value: string): Promise<T[]> {
    const { rows } = await this.#pool.query<{ data: T }>('SELECT data FROM records WHERE kind = $1 AND owner = $2 AND ref = $3 ORDER BY id', [this.#kind, owner, value])
    return rows.map(r => r.data)
  }

  async list (owner: string, options: ListOptions): Promise<{ data: T[], hasMore: boolean }> {
    const data: T[] = []
    for await (const record of this.#scan(owner, options.order, options.after)) {
      if (options.filter !== undefined && !options.filter(record)) continue
      if (data.length === options.limit) return { data, hasMore: true }
      data.push(record)
    }
    return { data, hasMore: false }
  }

  async * newest (owner: string): AsyncGenerator<T> {
    yield * this.#scan(owner, 'desc')
  }

  async * all (): AsyncGenerator<T> {
    yield * this.#scan(undefined, 'asc')
  }

  async reassign (from: string, to: string): Promise<number> {
    let moved = 0
    for (;;) {
      // A page at a time: the JSON body holds the owner too, and is rewritten in JS.
      const { rows } = await this.#pool.query<{ data: T }>('SELECT data FROM records WHERE kind = $1 AND owner = $2 ORDER BY id LIMIT $3', [this.#kind, from, PAGE])
      if (rows.length === 0) return moved
      for (const { data } of rows) {
        await this.#pool.query('UPDATE records SET owner = $3, data = $4 WHERE kind = $1 AND id = $2', [this.#kind, data.id, to, JSON.stringify({ ...data, owner: to })])
        moved++
      }
    }
  }

  /** Records in id order, a page at a time (keyset paging: no cursor held open). */
  async * #scan (owner: string | undefined, order: 'asc' | 'desc', after?: string): AsyncGenerator<T> {
    const cmp = order === 'asc' ? '>' : '<'
    let cursor = after
    for (;;) {
      const params: unknown[] = [this.#kind]
      let where = 'kind = $1'
      if (owner !== undefined) where += ` AND owner = $${params.push(owner)}`
      if (cursor !== undefined) where += ` AND id ${cmp} $${params.push(cursor)}`
      const { rows } = await this.#pool.query<{ data: T }>(`SELECT data FROM records WHERE ${where} ORDER BY id ${order} LIMIT ${PAGE}`, params)
      for (const row of rows) yield row.data
      if (rows.length < PAGE) return
      cursor = rows[rows.length - 1].data.id
    }
  }
}
