import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from '../store/index.js'
import type { Store } from '../store/index.js'
import { createUploadSlots } from './upload-slots.js'
import type { UploadSlots } from './upload-slots.js'

describe('upload slots', () => {
  let dir: string
  let store: Store
  let slots: UploadSlots

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-slots-'))
    store = await openStore(dir)
    slots = createUploadSlots({ store })
  })

  afterEach(async () => {
    slots.stop()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lets one upload at a time claim a slot, and only a stored upload use it up', async () => {
    const slot = await slots.open('alice', { fileBytes: 100, filesPerDay: Number.POSITIVE_INFINITY })
    expect(slot).toMatchObject({ owner: 'alice', maxBytes: 100, filesPerDay: null })
    expect(slot.id).toMatch(/^[A-Za-z0-9_-]{32}$/)
    const claims = await Promise.allSettled([slots.claim(slot.id), slots.claim(slot.id), slots.claim(slot.id)])
    const won = claims.filter(t => t.status === 'fulfilled')
    expect(won).toHaveLength(1)
    expect(claims.filter(t => t.status === 'rejected').map(t => (t as PromiseRejectedResult).reason.code)).toEqual(['upload_not_found', 'upload_not_found'])
    // The upload failed: the URL works again.
    won[0].value.release()
    const again = await slots.claim(slot.id)
    expect(again.slot.fileId).toBe(slot.fileId)
    await again.consume()
    await expect(slots.claim(slot.id)).rejects.toMatchObject({ code: 'upload_not_found' })
    await expect(slots.claim('no-such-token')).rejects.toMatchObject({ code: 'upload_not_found' })
  })

  it('refuses and sweeps expired slots', async () => {
    const expired = { ...await slots.open('bob', { fileBytes: 1, filesPerDay: 3 }), expires_at: 1 }
    await store.uploads.put(expired)
    await expect(slots.claim(expired.id)).rejects.toMatchObject({ code: 'upload_not_found' })
    const stale = { ...await slots.open('bob', { fileBytes: 1, filesPerDay: 3 }), expires_at: 1 }
    await store.uploads.put(stale)
    const live = await slots.open('bob', { fileBytes: 1, filesPerDay: 3 })
    await slots.start()
    expect(await store.uploads.get(stale.id)).toBeUndefined()
    expect(await store.uploads.get(live.id)).toMatchObject({ filesPerDay: 3 })
  })
})
