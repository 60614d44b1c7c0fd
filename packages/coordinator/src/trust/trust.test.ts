import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@dria/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openStore } from '../store/index.js'
import type { Store } from '../store/index.js'
import { createModelIdentity } from './model-identity.js'
import { createTrust } from './trust.js'
import type { TrustLevel } from './trust.js'

const logger = createLogger('test')

describe('trust', () => {
  let dir: string
  let store: Store

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dria-trust-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('checks every result of a new identity, then a sample once it passed enough checks', async () => {
    let draw = 0.5
    const trust = createTrust({ book: store.trust, logger }, { trustAfter: 3, checkRate: 0.25, random: () => draw })
    await trust.start()
    expect(trust.level('a')).toBe('new')
    expect(trust.shouldCheck('a')).toBe(true)
    trust.passedCheck('a')
    trust.passedCheck('a')
    expect(trust.level('a')).toBe('new')
    trust.passedCheck('a')
    expect(trust.level('a')).toBe('trusted')
    expect(trust.shouldCheck('a')).toBe(false)
    draw = 0.1
    expect(trust.shouldCheck('a')).toBe(true)
    expect(trust.verifierWeight('a')).toBeGreaterThan(trust.verifierWeight('b'))
    await trust.stop()
  })

  it('quarantines a proven liar at once and an overruled verifier after enough strikes, and tells listeners once', async () => {
    const trust = createTrust({ book: store.trust, logger }, { quarantineStrikes: 2 })
    await trust.start()
    const caught: string[] = []
    trust.onQuarantine(peer => caught.push(peer))
    trust.provenLie('liar', 'made up')
    trust.provenLie('liar', 'again')
    trust.strike('verifier', 'overruled')
    expect(trust.isQuarantined('verifier')).toBe(false)
    trust.strike('verifier', 'overruled')
    expect(caught).toEqual(['liar', 'verifier'])
    expect(trust.status('liar')).toMatchObject({ level: 'quarantined', reason: 'made up', checks: { failed: 2 } })
    expect(trust.shouldCheck('liar')).toBe(true)
    expect(trust.verifierWeight('liar')).toBe(0)
    await trust.stop()
  })

  it('keeps every identity across a restart: trust is per peer id, not per connection', async () => {
    let trust = createTrust({ book: store.trust, logger }, { trustAfter: 1 })
    await trust.start()
    trust.passedCheck('good')
    trust.served('good', 120)
    trust.provenLie('bad', 'garbage')
    await trust.stop()
    await store.close()
    store = await openStore(dir)
    trust = createTrust({ book: store.trust, logger }, { trustAfter: 1 })
    await trust.start()
    expect(trust.status('good')).toMatchObject({ level: 'trusted', served: { tasks: 1, tokens: 120 } })
    expect(trust.isQuarantined('bad')).toBe(true)
    await trust.stop()
  })

  it('on a shared store, applies a quarantine another coordinator decided', async () => {
    const a = createTrust({ book: store.trust, logger })
    const b = createTrust({ book: store.trust, logger }, { syncMs: 10 })
    await Promise.all([a.start(), b.start()])
    const quarantined: string[] = []
    b.onQuarantine(peer => { quarantined.push(peer) })
    b.served('liar', 10)
    a.provenLie('liar', 'made-up answer')
    await a.stop()
    await vi.waitFor(() => { expect(b.isQuarantined('liar')).toBe(true) })
    expect(quarantined).toEqual(['liar'])
    expect(b.status('liar').reason).toBe('made-up answer')
    await b.stop()
  })

  it('never checks or quarantines an allowlisted verifier, and weighs its verdicts most', async () => {
    const trust = createTrust({ book: store.trust, logger }, { allowlist: ['ours'] })
    await trust.start()
    expect(trust.level('ours')).toBe('allowlisted')
    expect(trust.shouldCheck('ours')).toBe(false)
    trust.provenLie('ours', 'disagreed')
    expect(trust.isQuarantined('ours')).toBe(false)
    expect(trust.verifierWeight('ours')).toBeGreaterThan(trust.verifierWeight('someone'))
    await trust.stop()
  })
})

describe('model identity', () => {
  const node = (id: string, digest: string): { id: string, models: Map<string, { digest: string }> } => ({ id, models: new Map([['m', { digest }]]) })

  it('accepts the configured digests only, when there are some', () => {
    const identity = createModelIdentity({ nodes: () => [node('a', 'sha256:x')], level: () => 'trusted' }, { digests: { m: ['sha256:y'] } })
    expect(identity.accepts('m', 'sha256:x')).toBe(false)
    expect(identity.accepts('m', 'sha256:y')).toBe(true)
  })

  it('learns from allowlisted and trusted nodes, else takes the digest most nodes serve', () => {
    const levels: Record<string, TrustLevel> = { a: 'new', b: 'new', c: 'new' }
    const nodes = [node('a', 'sha256:honest'), node('b', 'sha256:honest'), node('c', 'sha256:impostor')]
    const identity = createModelIdentity({ nodes: () => nodes, level: id => levels[id] })
    expect(identity.accepted('m')).toEqual(['sha256:honest'])
    levels.c = 'trusted'
    identity.invalidate()
    expect(identity.accepted('m')).toEqual(['sha256:impostor'])
    levels.c = 'quarantined'
    identity.invalidate()
    expect(identity.accepted('m')).toEqual(['sha256:honest'])
  })
})
