import { describe, expect, it } from 'vitest'
import { LineQueue } from './line-queue.js'
import type { TaskRow, TaskStore } from '../store/index.js'

function row (index: number): TaskRow {
  return { batchId: 'b', index, line: index + 1, customId: `c${index}`, kind: 'chat', model: 'm', body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), format: 'openai', state: 'pending', attempts: 0 }
}

/** A store whose pending rows are `pending`, answered when the test releases each read. */
function fakeStore (pending: Set<number>): { store: TaskStore, reads: Array<() => void> } {
  const reads: Array<() => void> = []
  const store = {
    async claim (_batch: string, _model: string, limit: number, after = -1) {
      const rows = [...pending].filter(i => i > after).sort((a, b) => a - b).slice(0, limit).map(row)
      await new Promise<void>(resolve => reads.push(resolve))
      return rows
    }
  } as unknown as TaskStore
  return { store, reads }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('LineQueue', () => {
  it('loads pending rows a window at a time, skipping rows that are taken', async () => {
    const { store, reads } = fakeStore(new Set([0, 1, 2, 3, 4]))
    const queue = new LineQueue(store, { batchId: 'b', model: 'm', owner: 'o', weight: 1, window: 8, isLive: key => key === 'b#2' })
    const loading = queue.refill()
    await tick()
    reads.shift()!()
    expect(await loading).toBe(true)
    expect([0, 1, 2, 3].map(() => queue.take().key)).toEqual(['b#0', 'b#1', 'b#3', 'b#4'])
    expect(queue.drained).toBe(true)
  })

  it('a rewind during a load makes the next load start over (rows redone meanwhile are found)', async () => {
    const pending = new Set([5, 6])
    const { store, reads } = fakeStore(pending)
    const queue = new LineQueue(store, { batchId: 'b', model: 'm', owner: 'o', weight: 1, window: 2, isLive: () => false })
    const first = queue.refill()
    await tick()
    pending.add(1) // a redone row, before the cursor of the load in flight
    queue.rewind()
    reads.shift()!()
    await first
    expect([queue.take().key, queue.take().key]).toEqual(['b#5', 'b#6'])
    const second = queue.refill()
    await tick()
    reads.shift()!()
    await second
    expect(queue.take().key).toBe('b#1')
  })

  it('whenIdle waits for the load in flight', async () => {
    const { store, reads } = fakeStore(new Set([0]))
    const queue = new LineQueue(store, { batchId: 'b', model: 'm', owner: 'o', weight: 1, window: 8, isLive: () => false })
    const calls: string[] = []
    queue.whenIdle(() => calls.push('idle before'))
    const loading = queue.refill()
    queue.whenIdle(() => calls.push('after load'))
    await tick()
    expect(calls).toEqual(['idle before'])
    reads.shift()!()
    await loading
    expect(calls).toEqual(['idle before', 'after load'])
  })
})
