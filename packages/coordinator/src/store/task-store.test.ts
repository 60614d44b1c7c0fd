import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from './index.js'
import type { Store, TaskOutcome, TaskRow } from './index.js'

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

describe('TaskStore', () => {
  let dir: string
  let store: Store

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-task-store-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

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

  it('commits transitions made in the same tick together, and each row shows its new state at once', async () => {
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

  it('puts rows an older coordinator left assigned back in the queue (restart)', async () => {
    // An earlier version wrote an 'assigned' state and removed the pending key.
    const legacy = { ...row('b', 0), state: 'assigned' as const, attempts: 2, peer: 'peer-a' }
    await store.tasks.insert([row('b', 0)])
    const [r0] = await store.tasks.pendingRows('b', 'm1', 10)
    await store.tasks.markFailed(r0, { code: 'x', message: 'x' }) // drop its pending key
    Object.assign(r0, legacy)
    await store.tasks.markPending(r0)
    expect(await store.tasks.get('b', 0)).toMatchObject({ state: 'pending', attempts: 2 })
    expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0])
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

    store = await openStore(dir)
    expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([0, 2])
    expect(await store.tasks.get('b', 1)).toEqual({ ...row('b', 1), state: 'completed', attempts: 1, peer: 'peer-a', outcome })

    // Transitions still work on rows read back from disk.
    const [r0] = await store.tasks.pendingRows('b', 'm1', 1)
    await store.tasks.markFailed(r0, { code: 'x', message: 'x' })
    expect(indexes(await store.tasks.pendingRows('b', 'm1', 10))).toEqual([2])
  })
})
