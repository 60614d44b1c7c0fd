import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from '../store/index.js'
import type { Store, TaskRow } from '../store/index.js'
import { createDeferredIndex } from './deferred-index.js'

describe('deferred pending index', () => {
  let dir: string
  let store: Store

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-deferred-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('indexes the rows noted during the split, through its scratch file, per model', async () => {
    const count = 40_000 // more than one scratch buffer
    const rows: TaskRow[] = Array.from({ length: count }, (_, index) => ({
      batchId: 'batch_d', index, line: index + 1, customId: `r${index}`, kind: 'chat', model: index % 3 === 0 ? 'm-b' : 'm-a',
      body: '{}', format: 'openai', state: index % 10 === 9 ? 'failed' : 'pending', attempts: 0
    }))
    const path = join(dir, 'pending.tmp')
    const deferred = createDeferredIndex({ tasks: store.tasks }, { batchId: 'batch_d', path })
    for (let start = 0; start < count; start += 1000) {
      const chunk = rows.slice(start, start + 1000)
      await store.tasks.insert(chunk, { indexPending: false })
      for (const row of chunk) if (row.state === 'pending') deferred.add(row.model, row.index)
      await deferred.flush()
    }
    expect(await store.tasks.pendingRows('batch_d', 'm-a', 10)).toEqual([])
    await deferred.write()
    await deferred.discard()
    expect(existsSync(path)).toBe(false)
    const pendingOf = async (model: string): Promise<number[]> => (await store.tasks.pendingRows('batch_d', model, count)).map(r => r.index)
    expect(await pendingOf('m-a')).toEqual(rows.filter(r => r.model === 'm-a' && r.state === 'pending').map(r => r.index))
    expect(await pendingOf('m-b')).toEqual(rows.filter(r => r.model === 'm-b' && r.state === 'pending').map(r => r.index))
  })
})
