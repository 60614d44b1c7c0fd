import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from './index.js'
import type { FileRecord, Store } from './index.js'

function file (id: string, owner: string, purpose: FileRecord['purpose'] = 'batch'): FileRecord {
  return { id, object: 'file', bytes: 10, created_at: 1_700_000_000, filename: `${id}.jsonl`, purpose, status: 'processed', owner }
}

const ids = (page: { data: Array<{ id: string }> }): string[] => page.data.map(r => r.id)

describe('RecordStore', () => {
  let dir: string
  let store: Store
  // Ids sort by creation time; these are already in key order.
  const mine = ['file-01', 'file-02', 'file-03', 'file-04', 'file-05']

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-record-store-'))
    store = await openStore(dir)
    // Interleave another owner's records, including one whose owner id extends ours.
    for (const [i, id] of mine.entries()) {
      await store.files.put(file(id, 'alice', i % 2 === 0 ? 'batch' : 'batch_output'))
      await store.files.put(file(`file-0${i}b`, 'bob'))
      await store.files.put(file(`file-0${i}c`, 'alice2'))
    }
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists only the owner\'s records, ascending or descending', async () => {
    expect(await store.files.list('alice', { limit: 100, order: 'asc' })).toEqual({ data: mine.map(id => file(id, 'alice', Number(id.slice(-1)) % 2 === 1 ? 'batch' : 'batch_output')), hasMore: false })
    expect(ids(await store.files.list('alice', { limit: 100, order: 'desc' }))).toEqual([...mine].reverse())
    expect(ids(await store.files.list('bob', { limit: 100, order: 'asc' }))).toEqual(['file-00b', 'file-01b', 'file-02b', 'file-03b', 'file-04b'])
    expect(await store.files.list('carol', { limit: 100, order: 'asc' })).toEqual({ data: [], hasMore: false })
  })

  it('pages with limit, after and hasMore in both orders', async () => {
    for (const order of ['asc', 'desc'] as const) {
      const expected = order === 'asc' ? mine : [...mine].reverse()
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const page = await store.files.list('alice', { limit: 2, order, after })
        seen.push(...ids(page))
        expect(page.hasMore).toBe(seen.length < expected.length)
        if (!page.hasMore) break
        after = page.data[page.data.length - 1].id
      }
      expect(seen).toEqual(expected)
    }

    // A page that ends exactly at the last record has nothing more.
    expect(await store.files.list('alice', { limit: 5, order: 'asc' })).toMatchObject({ hasMore: false })
    expect(await store.files.list('alice', { limit: 4, order: 'asc' })).toMatchObject({ hasMore: true })
    expect(ids(await store.files.list('alice', { limit: 10, order: 'asc', after: 'file-05' }))).toEqual([])
    expect(ids(await store.files.list('alice', { limit: 10, order: 'desc', after: 'file-01' }))).toEqual([])
    // `after` another owner's id still pages within this owner's records.
    expect(ids(await store.files.list('alice', { limit: 10, order: 'asc', after: 'file-02b' }))).toEqual(['file-03', 'file-04', 'file-05'])
  })

  it('filters before counting the page', async () => {
    const filter = (r: unknown): boolean => (r as FileRecord).purpose === 'batch'
    const first = await store.files.list('alice', { limit: 2, order: 'asc', filter })
    expect(first).toMatchObject({ hasMore: true })
    expect(ids(first)).toEqual(['file-01', 'file-03'])
    const second = await store.files.list('alice', { limit: 2, order: 'asc', filter, after: 'file-03' })
    expect(ids(second)).toEqual(['file-05'])
    expect(second.hasMore).toBe(false)
  })

  it('get, delete and all', async () => {
    expect(await store.files.get('file-02')).toEqual(file('file-02', 'alice', 'batch_output'))
    await store.files.delete(file('file-02', 'alice'))
    expect(await store.files.get('file-02')).toBeUndefined()
    expect(ids(await store.files.list('alice', { limit: 10, order: 'asc' }))).toEqual(['file-01', 'file-03', 'file-04', 'file-05'])
    const all: string[] = []
    for await (const record of store.files.all()) all.push(record.id)
    expect(all).toHaveLength(14)
    expect(all).not.toContain('file-02')
    // Batches live in their own store.
    expect(await store.batches.list('alice', { limit: 10, order: 'asc' })).toEqual({ data: [], hasMore: false })
  })
})
