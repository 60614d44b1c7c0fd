import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresSkipReason, startPostgres } from '@dria/testkit'
import type { TestPostgres } from '@dria/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeComplianceSuite } from '../compliance.suite.js'
import { SKIPPED, openStore } from '../index.js'
import type { Store, TaskRow } from '../index.js'

const skip = postgresSkipReason()
if (skip !== undefined) console.warn(skip)

describe.skipIf(skip !== undefined)('postgres store', () => {
  let server: TestPostgres
  let filesDir: string

  beforeAll(async () => {
    filesDir = await mkdtemp(join(tmpdir(), 'dria-pg-files-'))
    server = await startPostgres()
  })
  afterAll(async () => {
    await server?.stop()
    await rm(filesDir, { recursive: true, force: true })
  })

  storeComplianceSuite('postgres', async () => {
    const url = await server.createDatabase()
    return { open: async () => await openStore(filesDir, { url, filesDir }), cleanup: async () => {} }
  })

  const row = (index: number): TaskRow => ({ batchId: 'b', index, line: index + 1, customId: `r${index}`, kind: 'chat', model: 'm', body: '{}', format: 'openai', state: 'pending', attempts: 0 })
  const outcome = { output: '{}', promptTokens: 1, completionTokens: 1, peer: 'p', modelDigest: 'd', signature: 's', finishedAt: 1 }

  async function twoCoordinators (leaseMs = 60_000): Promise<[Store, Store]> {
    const url = await server.createDatabase()
    const a = await openStore(filesDir, { url, filesDir, instanceId: 'a', leaseMs })
    const b = await openStore(filesDir, { url, filesDir, instanceId: 'b', leaseMs })
    return [a, b]
  }

  it('keeps a quarantine another coordinator wrote: a record from older knowledge never lifts it', async () => {
    const [a, b] = await twoCoordinators()
    try {
      const base = { peerId: 'liar', firstSeen: 1, since: 1, checks: { passed: 3, failed: 0 }, strikes: 0, served: { tasks: 3, tokens: 30 } }
      await a.trust.putMany([{ ...base, level: 'quarantined', since: 2, reason: 'made-up answer', checks: { passed: 3, failed: 1 } }])
      await b.trust.putMany([{ ...base, level: 'new', served: { tasks: 4, tokens: 40 } }])
      expect(await a.trust.all()).toMatchObject([{ peerId: 'liar', level: 'quarantined', reason: 'made-up answer' }])
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('leases claimed rows: coordinators claim disjoint rows, and a result under a foreign lease is refused', async () => {
    const [a, b] = await twoCoordinators()
    try {
      await a.tasks.insert(Array.from({ length: 10 }, (_, i) => row(i)))
      const [mine, theirs] = await Promise.all([a.tasks.claim('b', 'm', 4), b.tasks.claim('b', 'm', 4)])
      expect(new Set([...mine, ...theirs].map(r => r.index)).size).toBe(8)
      // Both still see the rest; the leased ones stay pending (not run yet).
      expect((await a.tasks.claim('b', 'm', 10)).map(r => r.index).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter(i => !theirs.some(r => r.index === i)))
      expect(await b.tasks.renewLeases()).toBe(4)
      // b's row, completed by a: refused, and a's copy of the row left as it was.
      const stolen = { ...theirs[0] }
      await expect(a.tasks.markCompleted(stolen, outcome)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
      expect(stolen.state).toBe('pending')
      await b.tasks.markCompleted(theirs[0], outcome)
      expect(await a.tasks.get('b', theirs[0].index)).toMatchObject({ state: 'completed' })
      // Failing needs no lease (a cancel on any coordinator stops the batch).
      await a.tasks.markFailed({ ...theirs[1] }, { code: 'batch_cancelled', message: 'x' })
      expect(await b.tasks.counts('b')).toMatchObject({ completed: 1, failed: 1 })
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('gives the rows of a coordinator that stopped renewing to another once its leases expire', async () => {
    const [a, b] = await twoCoordinators(1_000)
    try {
      await a.tasks.insert(Array.from({ length: 4 }, (_, i) => row(i)))
      expect((await a.tasks.claim('b', 'm', 10)).map(r => r.index)).toEqual([0, 1, 2, 3])
      expect(await b.tasks.claim('b', 'm', 10)).toEqual([])
      await new Promise(resolve => setTimeout(resolve, 1_300))
      const taken = await b.tasks.claim('b', 'm', 10)
      expect(taken.map(r => r.index)).toEqual([0, 1, 2, 3])
      // a's late result for a row b holds now is discarded; b's counts once.
      await expect(a.tasks.markCompleted({ ...taken[0] }, outcome)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
      await b.tasks.markCompleted(taken[0], outcome)
      expect(await a.tasks.counts('b')).toMatchObject({ completed: 1 })
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('runs an exclusive duty on one coordinator at a time', async () => {
    const [a, b] = await twoCoordinators()
    try {
      let release = (): void => {}
      let started = (): void => {}
      const running = new Promise<void>(resolve => { started = resolve })
      const held = a.exclusive('finalize:batch_1', async () => await new Promise<string>(resolve => {
        release = () => { resolve('a') }
        started()
      }))
      await running
      expect(await b.exclusive('finalize:batch_1', async () => 'b')).toBe(SKIPPED)
      expect(await b.exclusive('finalize:batch_2', async () => 'b')).toBe('b')
      release()
      expect(await held).toBe('a')
      expect(await b.exclusive('finalize:batch_1', async () => 'b')).toBe('b')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it("refuses a transition another coordinator made first, and keeps the winner's row", async () => {
    const url = await server.createDatabase()
    const [a, b] = await Promise.all([openStore(filesDir, { url, filesDir }), openStore(filesDir, { url, filesDir })])
    try {
      const row = { batchId: 'b', index: 0, line: 1, customId: 'r0', kind: 'chat' as const, model: 'm', body: '{}', format: 'openai' as const, state: 'pending' as const, attempts: 0 }
      await a.tasks.insert([row])
      const [mine] = await a.tasks.pendingRows('b', 'm', 1)
      const [theirs] = await b.tasks.pendingRows('b', 'm', 1)
      await b.tasks.markFailed(theirs, { code: 'x', message: 'x' })
      const outcome = { output: '{}', promptTokens: 1, completionTokens: 1, peer: 'p', modelDigest: 'd', signature: 's', finishedAt: 1 }
      await expect(a.tasks.markCompleted(mine, outcome)).rejects.toMatchObject({ code: 'TASK_WRONG_STATE' })
      expect(mine.state).toBe('pending')
      expect(mine.outcome).toBeUndefined()
      expect(await a.tasks.get('b', 0)).toMatchObject({ state: 'failed', failure: { code: 'x' } })
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
