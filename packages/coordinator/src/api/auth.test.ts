import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyRequest } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createKeyring, loadOrCreateKeyring } from '../accounts/index.js'
import type { Keyring } from '../accounts/index.js'
import { openStore } from '../store/index.js'
import type { FileRecord, Store } from '../store/index.js'
import { createAuthenticator } from './auth.js'

const request = (headers: Record<string, string>): FastifyRequest => ({ headers }) as unknown as FastifyRequest
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

describe('authenticator', () => {
  let dir: string
  let store: Store
  let keyring: Keyring

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-auth-'))
    store = await openStore(dir)
    keyring = await loadOrCreateKeyring(join(dir, 'server-secret'))
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps the server secret owner-only and the same across starts', async () => {
    const again = await loadOrCreateKeyring(join(dir, 'server-secret'))
    expect(again.hashKey('k')).toBe(keyring.hashKey('k'))
    expect(createKeyring(Buffer.alloc(32, 1)).hashKey('k')).not.toBe(keyring.hashKey('k'))
    expect((await readFile(join(dir, 'server-secret'), 'utf8')).length).toBe(64)
  })

  it('gives static keys random owner ids, stable across restarts, and moves records of the old derived id', async () => {
    const legacyOwner = `key_${sha256('sk-static').slice(0, 24)}`
    const old: FileRecord = { id: 'file-old', object: 'file', bytes: 1, created_at: 1, filename: 'a', purpose: 'batch', status: 'processed', owner: legacyOwner }
    await store.files.put(old)

    const auth = createAuthenticator({ store, keyring }, { staticKeys: ['sk-static'] })
    await auth.start()
    const { keyId, plan } = await auth.authenticate(request({ authorization: 'Bearer sk-static' }))
    expect(plan).toBe('enterprise')
    expect(keyId).toMatch(/^key_/)
    expect(keyId).not.toContain(sha256('sk-static').slice(0, 8))
    expect(await store.files.get('file-old')).toMatchObject({ owner: keyId })
    expect((await store.files.list(legacyOwner, { limit: 10, order: 'asc' })).data).toEqual([])

    const restarted = createAuthenticator({ store, keyring }, { staticKeys: ['sk-static'] })
    await restarted.start()
    expect((await restarted.authenticate(request({ 'x-api-key': 'sk-static' }))).keyId).toBe(keyId)
  })

  it('accepts the bearer scheme in any case, and x-api-key', async () => {
    const auth = createAuthenticator({ store, keyring }, { staticKeys: ['sk-a'] })
    await auth.start()
    for (const headers of [{ authorization: 'Bearer sk-a' }, { authorization: 'bearer sk-a' }, { authorization: 'BEARER   sk-a' }, { 'x-api-key': 'sk-a' }]) {
      await expect(auth.authenticate(request(headers))).resolves.toMatchObject({ plan: 'enterprise' })
    }
    for (const headers of [{}, { authorization: 'Basic sk-a' }, { authorization: 'sk-a' }, { authorization: 'Bearer ' }, { authorization: 'Bearer sk-b' }]) {
      await expect(auth.authenticate(request(headers))).rejects.toMatchObject({ code: 'invalid_api_key' })
    }
  })

  it('stores admin keys by keyed hash, and moves keys stored by plain hash on their next use', async () => {
    const auth = createAuthenticator({ store, keyring })
    await auth.start()
    const { record, key } = await store.keys.create('alice', 'free', keyring.hashKey)
    expect(record.hash).toBe(keyring.hashKey(key))
    expect(record.hash).not.toBe(sha256(key))
    expect(await auth.authenticate(request({ authorization: `Bearer ${key}` }))).toMatchObject({ keyId: record.id, plan: 'free' })

    const legacy = await store.keys.create('bob', 'developer', sha256)
    expect(await auth.authenticate(request({ authorization: `Bearer ${legacy.key}` }))).toMatchObject({ keyId: legacy.record.id, plan: 'developer' })
    expect(await store.keys.findByHash(sha256(legacy.key))).toBeUndefined()
    expect(await store.keys.findByHash(keyring.hashKey(legacy.key))).toMatchObject({ id: legacy.record.id })
  })

  it('takes the admin token only as Authorization: Bearer', () => {
    const auth = createAuthenticator({ store, keyring }, { adminToken: 'admin-secret' })
    expect(() => { auth.authenticateAdmin(request({ authorization: 'Bearer admin-secret' })) }).not.toThrow()
    expect(() => { auth.authenticateAdmin(request({ authorization: 'bearer admin-secret' })) }).not.toThrow()
    for (const headers of [{ 'x-api-key': 'admin-secret' }, { authorization: 'Bearer wrong' }, {}]) {
      expect(() => { auth.authenticateAdmin(request(headers)) }).toThrow(expect.objectContaining({ code: 'invalid_admin_token' }))
    }
    const disabled = createAuthenticator({ store, keyring })
    expect(() => { disabled.authenticateAdmin(request({ authorization: 'Bearer x' })) }).toThrow(expect.objectContaining({ code: 'invalid_admin_token' }))
  })

  it('derives a Standard Webhooks secret per owner and verifies URL signatures', () => {
    expect(keyring.webhookSecret('key_a')).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(keyring.webhookSecret('key_a')).not.toBe(keyring.webhookSecret('key_b'))
    const signature = keyring.sign('file-1\n100')
    expect(keyring.verify('file-1\n100', signature)).toBe(true)
    expect(keyring.verify('file-1\n101', signature)).toBe(false)
    expect(keyring.verify('file-1\n100', 'short')).toBe(false)
  })
})
