import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresSkipReason, startPostgres } from '@dria/testkit'
import type { TestPostgres } from '@dria/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeComplianceSuite } from '../compliance.suite.js'
import { openStore } from '../index.js'

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
