import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { storeComplianceSuite } from '../compliance.suite.js'
import { openStore } from '../index.js'
import type { Store, TaskRow } from '../index.js'

storeComplianceSuite('level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dria-level-store-'))
  return {
    open: async () => await openStore(dir),
    cleanup: async () => { await rm(dir, { recursive: true, force: true }) }
  }
})

describe('level store', () => {
  let dir: string
  let store: Store

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-level-store-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('puts rows an older coordinator left assigned back in the queue (restart)', async () => {
    const row: TaskRow = { batchId: 'b', index: 0, line: 1, customId: 'r0', kind: 'chat', model: 'm1', body: '{}', format: 'openai', state: 'pending', attempts: 0 }
    // An earlier version wrote an 'assigned' state and removed the pending key.
    await store.tasks.insert([row])
    const [r0] = await store.tasks.pendingRows('b', 'm1', 10)
    await store.tasks.markFailed(r0, { code: 'x', message: 'x' }) // drop its pending key
    Object.assign(r0, { state: 'assigned', attempts: 2, peer: 'peer-a' })
    await store.tasks.markPending(r0)
    expect(await store.tasks.get('b', 0)).toMatchObject({ state: 'pending', attempts: 2 })
    expect((await store.tasks.pendingRows('b', 'm1', 10)).map(r => r.index)).toEqual([0])
  })

  it('keeps file bodies in <dataDir>/files unless told otherwise', async () => {
    expect(store.filesDir).toBe(join(dir, 'files'))
    const other = await openStore(join(dir, 'second'), { filesDir: join(dir, 'shared-files') })
    expect(other.filesDir).toBe(join(dir, 'shared-files'))
    await other.close()
  })
})
