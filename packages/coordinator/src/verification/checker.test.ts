import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ModelKind, createLogger, signTaskResult } from '@dria/protocol'
import type { TaskRequest } from '@dria/protocol'
import type { PrivateKey } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import type { NodeSession, TaskReply } from '../network/index.js'
import type { TaskOutcome } from '../store/index.js'
import type { Trust, TrustLevel } from '../trust/index.js'
import { createChecker } from './checker.js'
import type { CheckSubject } from './checker.js'

const DIGEST = 'sha256:' + 'ab'.repeat(32)
const logger = createLogger('test')

type Behaviour = 'honest' | 'pass' | 'fail' | 'silent'

interface Verifier { session: NodeSession, key: PrivateKey, behaviour: Behaviour }

async function verifier (behaviour: Behaviour, capabilities = ['completion', 'score']): Promise<Verifier> {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  const session = {
    id: peerId.toString(),
    peerId,
    hello: { engine: 'llamacpp' },
    models: new Map([['m', { name: 'm', digest: DIGEST, kind: ModelKind.MODEL_KIND_CHAT, tokensPerSecond: 1, contextLength: 1, capabilities }]])
  } as unknown as NodeSession
  return { session, key, behaviour }
}

/** Trust with fixed levels; records strikes and lies. */
function fakeTrust (levels: Record<string, TrustLevel> = {}): Trust & { strikes: string[] } {
  const strikes: string[] = []
  const weights: Record<TrustLevel, number> = { allowlisted: 100, trusted: 10, new: 1, quarantined: 0 }
  return {
    strikes,
    level: id => levels[id] ?? 'new',
    isQuarantined: id => levels[id] === 'quarantined',
    verifierWeight: id => weights[levels[id] ?? 'new'],
    strike: id => { strikes.push(id) }
  } as unknown as Trust & { strikes: string[] }
}

/** A producer's honest claim ("good") or a lie ("bad"); honest verifiers pass exactly the good one. */
function subject (producer: NodeSession, text: 'good' | 'bad'): CheckSubject {
  const outcome: TaskOutcome = { output: JSON.stringify({ text, finish_reason: 'stop' }), promptTokens: 3, completionTokens: 2, peer: producer.id, modelDigest: DIGEST, signature: '', finishedAt: 0, sampler: 'dria-1' }
  return { kind: 'chat', model: 'm', json: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), seed: 1, producer, outcome }
}

function checkerOf (verifiers: Verifier[], trust: Trust): { check: ReturnType<typeof createChecker>['check'], asked: string[] } {
  const asked: string[] = []
  const byId = new Map(verifiers.map(v => [v.session.id, v]))
  const run = async (session: NodeSession, request: TaskRequest, _deadline: number, signal: AbortSignal): Promise<TaskReply> => {
    const v = byId.get(session.id)!
    asked.push(session.id)
    if (v.behaviour === 'silent') return await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) ; setTimeout(() => { reject(new Error('timeout')) }, 10) })
    const claim = JSON.parse(new TextDecoder().decode(request.body)) as { claim: { output: { text: string } } }
    const pass = v.behaviour === 'pass' || (v.behaviour === 'honest' && claim.claim.output.text === 'good')
    const report = { verdict: pass ? 'pass' : 'fail', method: 'greedy', worstMargin: 0, usage: { promptTokens: 3, completionTokens: 2 }, ...(pass ? {} : { code: 'TOKEN_NOT_SELECTED' }) }
    const result = await signTaskResult(v.key, { taskId: request.taskId, attempt: request.attempt, model: 'm', modelDigest: DIGEST, output: new TextEncoder().encode(JSON.stringify(report)), signature: new Uint8Array() })
    return { result }
  }
  let n = 0
  const checker = createChecker({
    sessionsFor: () => verifiers.map(v => v.session),
    trust,
    run,
    newTaskId: () => `t${n++}`,
    deadline: () => 1_000,
    logger,
    metrics: null
  })
  return { check: checker.check, asked }
}

const signal = new AbortController().signal

describe('checker (scoring)', () => {
  it('passes an honest result once two new verifiers agree, and asks no more', async () => {
    const [producer, a, b, c] = await Promise.all([verifier('honest'), verifier('honest'), verifier('honest'), verifier('honest')])
    const { check, asked } = checkerOf([producer, a, b, c], fakeTrust())
    expect(await check(subject(producer.session, 'good'), signal)).toMatchObject({ verdict: 'pass', usage: { promptTokens: 3, completionTokens: 2 } })
    expect(asked).toHaveLength(2)
    expect(asked).not.toContain(producer.session.id)
  })

  it('one trusted verifier passes a result alone; a failure is confirmed by everyone eligible', async () => {
    const [producer, a, b] = await Promise.all([verifier('honest'), verifier('honest'), verifier('honest')])
    const trust = fakeTrust({ [a.session.id]: 'trusted', [b.session.id]: 'trusted' })
    const passing = checkerOf([producer, a, b], trust)
    expect(await passing.check(subject(producer.session, 'good'), signal)).toMatchObject({ verdict: 'pass' })
    expect(passing.asked).toHaveLength(1)
    const failing = checkerOf([producer, a, b], trust)
    expect(await failing.check(subject(producer.session, 'bad'), signal)).toMatchObject({ verdict: 'fail', reason: 'TOKEN_NOT_SELECTED' })
    expect(failing.asked).toHaveLength(2)
  })

  it('two colluders cannot fail an honest result by being asked first, nor pass their lie', async () => {
    const [producer, h1, h2, c1, c2] = await Promise.all([verifier('honest'), verifier('honest'), verifier('honest'), verifier('fail'), verifier('fail')])
    const trust = fakeTrust()
    for (let i = 0; i < 20; i++) {
      const verdict = await checkerOf([producer, h1, h2, c1, c2], trust).check(subject(producer.session, 'good'), signal)
      expect(['pass', 'inconclusive']).toContain(verdict.verdict)
    }
    // A colluder's lie, vouched for by its partner: three honest verifiers outvote it.
    const [liar, partner] = await Promise.all([verifier('pass'), verifier('pass')])
    const verdict = await checkerOf([liar, partner, h1, h2, producer], trust).check(subject(liar.session, 'bad'), signal)
    expect(verdict).toMatchObject({ verdict: 'fail' })
    expect(trust.strikes).toContain(partner.session.id)
  })

  it('a lone verifier: its pass stands, its failure only rejects', async () => {
    const [producer, only] = await Promise.all([verifier('honest'), verifier('honest')])
    expect(await checkerOf([producer, only], fakeTrust()).check(subject(producer.session, 'good'), signal)).toMatchObject({ verdict: 'pass' })
    expect(await checkerOf([producer, only], fakeTrust()).check(subject(producer.session, 'bad'), signal)).toMatchObject({ verdict: 'reject' })
  })

  it('a verifier that does not answer might have disagreed: no decision below the margin', async () => {
    const [producer, silent, honest] = await Promise.all([verifier('honest'), verifier('silent'), verifier('honest')])
    const verdict = await checkerOf([producer, silent, honest], fakeTrust()).check(subject(producer.session, 'good'), signal)
    expect(verdict).toEqual({ verdict: 'inconclusive', split: false })
  })

  it('verifiers split evenly, none trusted: inconclusive and split, nobody struck', async () => {
    const [producer, honest, colluder] = await Promise.all([verifier('honest'), verifier('honest'), verifier('fail')])
    const trust = fakeTrust()
    expect(await checkerOf([producer, honest, colluder], trust).check(subject(producer.session, 'good'), signal)).toEqual({ verdict: 'inconclusive', split: true })
    expect(trust.strikes).toHaveLength(0)
  })

  it('nobody else serves the weights: unavailable', async () => {
    const producer = await verifier('honest')
    expect(await checkerOf([producer], fakeTrust()).check(subject(producer.session, 'good'), signal)).toEqual({ verdict: 'unavailable' })
  })
})
