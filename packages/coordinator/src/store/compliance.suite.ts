import { describe, expect, it, beforeEach, afterEach } from 'vitest'
import type { PeerTrustRecord, Store } from './interfaces.js'
import type { BatchRecord, FileRecord, TaskOutcome, TaskRow, UploadSlot } from './types.js'

/** One backend's state for one test: `open` reopens the same state each time it is called. */
export interface StoreHarness {
  open(): Promise<Store>
  /** Removes the state (the store is closed first). */
  cleanup(): Promise<void>
}

function file (id: string, owner: string, purpose: FileRecord['purpose'] = 'batch'): FileRecord {
  return { id, object: 'file', bytes: 10, created_at: 1_700_000_000, filename: `${id}.jsonl`, purpose, status: 'processed', owner }
}

const ids = (page: { data: Array<{ id: string }> }): string[] => page.data.map(r => r.id)

const outcome: TaskOutcome = {
  output: '{"text":"Once upon a time","finish_reason":"stop"}',
  promptTokens: 7,
  completionTokens: 4,
  peer: 'peer-a',
  modelDigest: 'sha256:abc',
  signature: 'c2ln',
  finishedAt: 1_700_000_000_000
}

function row (batchId: string, index: number, model = 'm1'): TaskRow {
  return {
    batchId,
    index,
    line: index + 1,
    customId: `req-${index}`,
    kind: 'chat',
    model,
    body: JSON.stringify({ model, messages: [{ role: 'user', content: `hi ${index}` }] }),
    format: 'openai',
    state: 'pending',
    attempts: 0
  }
}

async function collect<T> (iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

const indexes = (rows: TaskRow[]): number[] => rows.map(r => r.index)

/**
 * The behaviour every Store implementation must have (like js-libp2p's interface-compliance
 * tests): call it from a test file with a factory of fresh, empty states of the backend.
 */
export function storeComplianceSuite (name: string, setup: () => Promise<StoreHarness>): void {
  describe(`${name}: store compliance`, () => {
    let harness: StoreHarness
    let store: Store

    beforeEach(async () => {
      harness = await setup()
      store = await harness.open()
    })

    afterEach(async () => {
      await store.close()
      await harness.cleanup()
    })

    describe('RecordStore', () => {
      // Ids sort by creation time; these are already in key order.
      const mine = ['file-01', 'file-02', 'file-03', 'file-04', 'file-05']

      beforeEach(async () => {
        // Interleave another owner's records, including one whose owner id extends ours.
        for (const [i, id] of mine.entries()) {
          await store.files.put(file(id, 'alice', i % 2 === 0 ? 'batch' : 'batch_output'))
          await store.files.put(file(`file-0${i}b`, 'bob'))
          await store.files.put(file(`file-0${i}c`, 'alice2'))
        }
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

    describe('TaskStore', () => {
      it('lists pending rows per model, in index order, paging with afterIndex', async () => {
        // Indexes past 9 and 99 check that keys sort numerically, not as strings.
        const rows = Array.from({ length: 120 }, (_, i) => row('batch_a', i, i % 3 === 0 ? 'm2' : 'm1'))
        await store.tasks.insert(rows)

        const m1 = rows.filter(r => r.model === 'm1').map(r => r.index)
        const m2 = rows.filter(r => r.model === 'm2').map(r => r.index)
        expect(indexes(await store.tasks.pendingRows('batch_a', 'm1', 1000))).toEqual(m1)
        expect(indexes(await store.tasks.pendingRows('batch_a', 'm2', 1000))).toEqual(m2)

        const paged: number[] = []
        let after = -1
        for (;;) {
          const page = await store.tasks.pendingRows('batch_a', 'm1', 7, after)
          if (page.length === 0) break
          expect(page.length).toBeLessThanOrEqual(7)
          paged.push(...indexes(page))
          after = page[page.length - 1].index
        }
        expect(paged).toEqual(m1)

        expect(await store.tasks.pendingRows('batch_a', 'other', 10)).toEqual([])
        expect(await store.tasks.pendingRows('batch_b', 'm1', 10)).toEqual([])
        expect(await store.tasks.get('batch_a', 5)).toEqual(rows[5])
        expect(await store.tasks.get('batch_a', 500)).toBeUndefined()
      })

      it('does not mix batches whose ids share a prefix', async () => {
        await store.tasks.insert([row('batch_a', 0), row('batch_a', 1)])
        await store.tasks.insert([row('batch_ab', 0)])
        expect(indexes(await store.tasks.pendingRows('batch_a', 'm1', 10))).toEqual([0, 1])
        expect((await collect(store.tasks.rows('batch_a'))).map(r => r.batchId)).toEqual(['batch_a', 'batch_a'])
      })

      it('inserts lines failed at ingest without queueing them', async () => {
        const failed: TaskRow = { ...row('b', 1), body: '', state: 'failed', failure: { code: 'invalid_value', message: 'bad role', status: 400, param: 'messages[0].role' } }
        await store.tasks.insert([row('b', 0), failed, row('b', 2)])
        expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0, 2])
        expect(await store.tasks.get('b', 1)).toEqual(failed)
      })

      it('moves pending rows to completed or failed, and only those', async () => {
        await store.tasks.insert([row('b', 0), row('b', 1), row('b', 2), row('b', 3)])
        const [r0, r1, r2, r3] = await store.tasks.pendingRows('b', 'm1', 10)

        await store.tasks.markCompleted(r1, outcome, 3)
        await store.tasks.markFailed(r2, { code: 'engine_error', message: 'boom', status: 500 })
        await store.tasks.markFailed(r3, { code: 'batch_cancelled', message: 'cancelled' })

        expect(await store.tasks.get('b', 1)).toMatchObject({ state: 'completed', outcome, peer: 'peer-a', attempts: 3 })
        expect(await store.tasks.get('b', 2)).toMatchObject({ state: 'failed', failure: { code: 'engine_error', status: 500 } })
        expect(await store.tasks.get('b', 3)).toMatchObject({ state: 'failed', failure: { code: 'batch_cancelled' } })
        expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0])
        expect((await collect(store.tasks.rows('b'))).map(r => r.state)).toEqual(['pending', 'completed', 'failed', 'failed'])
        expect(r0.state).toBe('pending')
      })

      it('applies transitions made in the same tick, and each row shows its new state at once', async () => {
        await store.tasks.insert(Array.from({ length: 50 }, (_, i) => row('b', i)))
        const rows = await store.tasks.pendingRows('b', 'm1', 100)
        const writes = rows.map(async (r, i) => { await (i % 2 === 0 ? store.tasks.markCompleted(r, outcome) : store.tasks.markFailed(r, { code: 'x', message: 'x' })) })
        // Applied in memory before the write lands: a second transition in the same tick is refused.
        expect(rows[0].state).toBe('completed')
        await expect(store.tasks.markFailed(rows[0], { code: 'y', message: 'y' })).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
        await Promise.all(writes)
        expect(await store.tasks.pendingRows('b', 'm1', 100)).toEqual([])
        const states = (await collect(store.tasks.rows('b'))).map(r => r.state)
        expect(states.filter(s => s === 'completed')).toHaveLength(25)
        expect(states.filter(s => s === 'failed')).toHaveLength(25)
      })

      it('reopens a completed row whose result is distrusted, and only a completed one', async () => {
        await store.tasks.insert([row('b', 0), row('b', 1)])
        const [r0, r1] = await store.tasks.pendingRows('b', 'm1', 10)
        await store.tasks.markCompleted(r0, outcome, 1)
        await store.tasks.markRedo(r0)
        const reopened = await store.tasks.get('b', 0)
        expect(reopened).toMatchObject({ state: 'pending', attempts: 1 })
        expect(reopened?.outcome).toBeUndefined()
        expect(reopened?.peer).toBeUndefined()
        expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0, 1])
        await expect(store.tasks.markRedo(r1)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
      })

      it('throws TASK_WRONG_STATE on transitions from the wrong state and leaves the row alone', async () => {
        await store.tasks.insert([row('b', 0), row('b', 1)])
        const [done, other] = await store.tasks.pendingRows('b', 'm1', 10)

        await expect(store.tasks.markPending(done)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
        await store.tasks.markCompleted(done, outcome, 1)
        await expect(store.tasks.markCompleted(done, outcome)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
        await expect(store.tasks.markFailed(done, { code: 'x', message: 'x' })).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
        await expect(store.tasks.markPending(done)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })

        await store.tasks.markFailed(other, { code: 'x', message: 'x' })
        await expect(store.tasks.markFailed(other, { code: 'y', message: 'y' })).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
        await expect(store.tasks.markCompleted(other, outcome)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })

        expect(await store.tasks.get('b', 0)).toMatchObject({ state: 'completed', attempts: 1, peer: 'peer-a' })
        expect(await store.tasks.get('b', 1)).toMatchObject({ state: 'failed', failure: { code: 'x' } })
        expect(await store.tasks.pendingRows('b', 'm1', 10)).toEqual([])
      })

      it('deleteBatch removes every row and index entry of one batch and nothing of another', async () => {
        // Model names are user input: a non-Latin name must not escape the batch's key range.
        const models = ['m1', 'm2', 'モデル', 'emoji-🦙']
        for (const batchId of ['batch_x', 'batch_y']) {
          await store.tasks.insert(Array.from({ length: 8 }, (_, i) => row(batchId, i, models[i % models.length])))
          const rows = await collect(store.tasks.rows(batchId))
          await store.tasks.markCompleted(rows[1], outcome)
          await store.tasks.markFailed(rows[2], { code: 'x', message: 'x' })
        }

        await store.tasks.deleteBatch('batch_x')

        expect(await collect(store.tasks.rows('batch_x'))).toEqual([])
        for (const model of models) expect(await store.tasks.pendingRows('batch_x', model, 100)).toEqual([])
        // Re-inserting after a delete (a restarted validation) must not resurrect old index entries.
        await store.tasks.insert(Array.from({ length: 8 }, (_, i) => row('batch_x', i, 'm1')))
        for (const model of models) {
          expect(indexes(await store.tasks.pendingRows('batch_x', model, 100))).toEqual(model === 'm1' ? [0, 1, 2, 3, 4, 5, 6, 7] : [])
        }

        const y = await collect(store.tasks.rows('batch_y'))
        expect(y.map(r => r.state)).toEqual(['pending', 'completed', 'failed', 'pending', 'pending', 'pending', 'pending', 'pending'])
        expect(indexes(await store.tasks.pendingRows('batch_y', 'モデル', 100))).toEqual([6])
        expect(indexes(await store.tasks.pendingRows('batch_y', 'emoji-🦙', 100))).toEqual([3, 7])
      })

      it('keeps rows and their state across close and reopen', async () => {
        await store.tasks.insert([row('b', 0), row('b', 1), row('b', 2)])
        const [, r1] = await store.tasks.pendingRows('b', 'm1', 10)
        await store.tasks.markCompleted(r1, outcome, 1)
        await store.close()

        store = await harness.open()
        expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0, 2])
        expect(await store.tasks.get('b', 1)).toEqual({ ...row('b', 1), state: 'completed', attempts: 1, peer: 'peer-a', outcome })

        // Transitions still work on rows read back from disk.
        const [r0] = await store.tasks.pendingRows('b', 'm1', 1)
        await store.tasks.markFailed(r0, { code: 'x', message: 'x' })
        expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([2])
      })
    })
    describe('RecordStore by ref and owner', () => {
      it('finds by ref per owner, lists newest first and reassigns owners', async () => {
        const slot = (id: string, owner: string): UploadSlot => ({ id, owner, fileId: `file-${id}`, filename: 'a.jsonl', expires_at: 1, maxBytes: 10, filesPerDay: null })
        await store.uploads.put(slot('u1', 'alice'))
        await store.uploads.put(slot('u2', 'alice'))
        await store.uploads.put(slot('u3', 'bob'))
        expect((await collect(store.uploads.newest('alice'))).map(r => r.id)).toEqual(['u2', 'u1'])
        expect(await store.uploads.reassign('alice', 'carol')).toBe(2)
        expect(await collect(store.uploads.newest('alice'))).toEqual([])
        expect(await store.uploads.get('u1')).toMatchObject({ owner: 'carol' })
        expect((await store.uploads.list('carol', { limit: 10, order: 'asc' })).data.map(r => r.id)).toEqual(['u1', 'u2'])
        expect((await collect(store.uploads.all())).map(r => r.id).sort()).toEqual(['u1', 'u2', 'u3'])
        // Putting a record again replaces it.
        await store.uploads.put({ ...slot('u3', 'bob'), filename: 'b.jsonl' })
        expect(await store.uploads.get('u3')).toMatchObject({ filename: 'b.jsonl' })
        expect(await store.uploads.get('missing')).toBeUndefined()
      })

      it('finds batches by their input file, per owner, oldest first, across reopen', async () => {
        const batch = (id: string, owner: string, input: string): BatchRecord => ({ id, owner, input_file_id: input } as unknown as BatchRecord)
        await store.batches.put(batch('batch_1', 'alice', 'file_a'))
        await store.batches.put(batch('batch_2', 'alice', 'file_a'))
        await store.batches.put(batch('batch_3', 'alice', 'file_b'))
        await store.batches.put(batch('batch_4', 'bob', 'file_a'))
        await store.close()
        store = await harness.open()
        expect((await store.batches.findByRef('alice', 'file_a')).map(b => b.id)).toEqual(['batch_1', 'batch_2'])
        expect((await store.batches.findByRef('bob', 'file_a')).map(b => b.id)).toEqual(['batch_4'])
        await store.batches.delete(batch('batch_1', 'alice', 'file_a'))
        expect((await store.batches.findByRef('alice', 'file_a')).map(b => b.id)).toEqual(['batch_2'])
        expect(await store.batches.reassign('alice', 'carol')).toBe(2)
        expect(await store.batches.findByRef('alice', 'file_a')).toEqual([])
        expect((await store.batches.findByRef('carol', 'file_a')).map(b => b.id)).toEqual(['batch_2'])
      })
    })

    describe('deferred pending index', () => {
      it('does not queue rows inserted unindexed until indexPending names them', async () => {
        const rows = Array.from({ length: 10 }, (_, i) => row('b', i, i % 2 === 0 ? 'm1' : 'm2'))
        await store.tasks.insert(rows, { indexPending: false })
        expect(await store.tasks.pendingRows('b', 'm1', 10)).toEqual([])
        expect(await store.tasks.get('b', 3)).toEqual(rows[3])
        await store.tasks.indexPending(rows.filter(r => r.index < 6).map(r => ({ batchId: r.batchId, model: r.model, index: r.index })))
        expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0, 2, 4])
        expect(indexes(await store.tasks.pendingRows('b', 'm2', 10))).toEqual([1, 3, 5])
      })
    })

    describe('claims, counts and duties', () => {
      it('claims pending rows in index order, like pendingRows, and counts final states', async () => {
        await store.tasks.insert(Array.from({ length: 6 }, (_, i) => row('b', i)))
        const claimed = await store.tasks.claim('b', 'm1', 3)
        expect(indexes(claimed)).toEqual([0, 1, 2])
        expect(indexes(await store.tasks.claim('b', 'm1', 10, 2))).toEqual([3, 4, 5])
        expect(await store.tasks.renewLeases()).toBeGreaterThanOrEqual(0)
        await store.tasks.markCompleted(claimed[0], outcome, 1)
        await store.tasks.markFailed(claimed[1], { code: 'x', message: 'x' })
        expect(await store.tasks.counts('b')).toEqual({ total: 6, completed: 1, failed: 1, inputTokens: 7, outputTokens: 4 })
        expect(await store.tasks.counts('none')).toEqual({ total: 0, completed: 0, failed: 0, inputTokens: 0, outputTokens: 0 })
        // A claimed row this coordinator still holds is claimed again (its queue drops duplicates).
        expect(indexes(await store.tasks.claim('b', 'm1', 10))).toEqual([2, 3, 4, 5])
      })

      it('runs exclusive duties and passes their value through', async () => {
        expect(await store.exclusive('duty', async () => 42)).toBe(42)
        await expect(store.exclusive('duty', async () => { throw new Error('boom') })).rejects.toThrow('boom')
        expect(await store.exclusive('duty', async () => 'again')).toBe('again')
      })
    })

    describe('PeerBook and TrustBook', () => {
      it('remembers known peers and trust records across a reopen', async () => {
        await store.peers.remember({ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/1'] })
        await store.peers.remember({ id: 'peer-b', multiaddrs: ['/ip4/127.0.0.1/tcp/2'] })
        await store.peers.remember({ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/3'] })
        await store.peers.forget('peer-b')
        await store.peers.forget('peer-never-seen')
        const record: PeerTrustRecord = { peerId: 'peer-c', level: 'quarantined', firstSeen: 1, since: 2, reason: 'lied', checks: { passed: 3, failed: 1 }, strikes: 0, served: { tasks: 3, tokens: 90 } }
        await store.trust.putMany([record, { ...record, peerId: 'peer-d', level: 'new', reason: undefined }])
        await store.trust.putMany([{ ...record, strikes: 1 }])
        await store.trust.putMany([])
        await store.close()

        store = await harness.open()
        expect(await store.peers.all()).toEqual([{ id: 'peer-a', multiaddrs: ['/ip4/127.0.0.1/tcp/3'] }])
        expect((await store.trust.all()).sort((a, b) => a.peerId.localeCompare(b.peerId))).toEqual([{ ...record, strikes: 1 }, { ...record, peerId: 'peer-d', level: 'new', reason: undefined }].map(r => JSON.parse(JSON.stringify(r))))
      })
    })

    describe('KeyStore', () => {
      const hash = (key: string): string => `h:${key}`

      it('creates, finds, lists, rehashes and revokes keys', async () => {
        const { record, key } = await store.keys.create('alice', 'free', hash)
        expect(key).toMatch(/^sk-dria-/)
        expect(record).toMatchObject({ object: 'api_key', name: 'alice', plan: 'free', hash: hash(key), prefix: key.slice(0, 12) })
        expect(await store.keys.findByHash(hash(key))).toEqual(record)
        expect(await store.keys.findByHash('h:unknown')).toBeUndefined()
        const moved = await store.keys.rehash(record, 'h2')
        expect(moved).toEqual({ ...record, hash: 'h2' })
        expect(await store.keys.findByHash(hash(key))).toBeUndefined()
        expect(await store.keys.findByHash('h2')).toEqual(moved)
        const other = await store.keys.create('bob', 'developer', hash)
        expect((await store.keys.list()).map(r => r.id).sort()).toEqual([record.id, other.record.id].sort())
        expect(await store.keys.revoke(record.id)).toEqual(moved)
        expect(await store.keys.revoke(record.id)).toBeUndefined()
        expect(await store.keys.findByHash('h2')).toBeUndefined()
        expect((await store.keys.list()).map(r => r.id)).toEqual([other.record.id])
      })

      it('gives each static key hash one owner id, created once, kept across reopen', async () => {
        const first = await store.keys.staticOwner('hash-a')
        expect(first.created).toBe(true)
        expect(await store.keys.staticOwner('hash-a')).toEqual({ owner: first.owner, created: false })
        const other = await store.keys.staticOwner('hash-b')
        expect(other.owner).not.toBe(first.owner)
        await store.close()
        store = await harness.open()
        expect(await store.keys.staticOwner('hash-a')).toEqual({ owner: first.owner, created: false })
      })
    })
  })
}
