import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { ModelKind, createLogger, signTaskResult } from '@dria/protocol'
import type { TaskRequest, TaskResponse } from '@dria/protocol'
import type { TaskClient } from '@dria/p2p'
import type { PrivateKey } from '@libp2p/interface'
import type { NetworkView, NodePeer } from '../network/index.js'
import type { TaskOutcome, TaskRow } from '../store/index.js'
import { createAuditor } from './auditor.js'

const DIGEST = 'sha256:abc'
const MODEL = 'm'

interface Node { peer: NodePeer, key: PrivateKey, answer: string }

/** Nodes with real keys that sign `answer` for every task; the client routes by peer id. */
async function node (answer: string): Promise<Node> {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  const peer: NodePeer = {
    peerId,
    id: peerId.toString(),
    record: { peerId: peerId.toMultihash().bytes, seq: 1, issuedAtMs: Date.now(), version: '0', engine: 'llamacpp', models: [], slotsTotal: 1, slotsFree: 1, multiaddrs: [] },
    models: new Map([[MODEL, { name: MODEL, digest: DIGEST, kind: ModelKind.MODEL_KIND_CHAT, tokensPerSecond: 1, contextLength: 0 }]]),
    inflight: 0,
    backoffUntil: 0,
    strikes: 0
  }
  return { peer, key, answer }
}

function setup (nodes: Node[], rate = 1): { review: (row: TaskRow, first: Node) => Promise<TaskOutcome>, slotFreed: (peer: NodePeer) => boolean, struck: string[], calls: string[] } {
  const struck: string[] = []
  const calls: string[] = []
  const network = {
    peersFor: () => nodes.map(n => n.peer),
    strike: (peer: NodePeer) => { struck.push(peer.id) }
  } as unknown as NetworkView
  const client: TaskClient = {
    async run (peer, request: TaskRequest): Promise<TaskResponse> {
      const target = nodes.find(n => n.peer.id === peer.toString())!
      calls.push(target.peer.id)
      const result = await signTaskResult(target.key, {
        taskId: request.taskId, attempt: request.attempt, model: MODEL, modelDigest: DIGEST,
        output: new TextEncoder().encode(JSON.stringify({ text: target.answer, finish_reason: 'stop' })),
        usage: { promptTokens: 2, completionTokens: 3 }, signature: new Uint8Array()
      })
      return { result }
    }
  }
  const auditor = createAuditor({ network, client, logger: createLogger('test'), metrics: null }, { rate, taskTimeoutMs: 10_000, onSlotFree: peer => { peer.inflight-- } })
  return {
    struck,
    calls,
    slotFreed: peer => auditor.slotFreed(peer),
    review: async (row, first) => await auditor.review(row, 'b#0', {
      peer: first.peer,
      outcome: { output: JSON.stringify({ text: first.answer, finish_reason: 'stop' }), promptTokens: 2, completionTokens: 3, peer: first.peer.id, modelDigest: DIGEST, signature: '', finishedAt: 0 }
    }, new AbortController().signal)
  }
}

const greedy: TaskRow = { batchId: 'b', index: 0, line: 1, customId: 'c', kind: 'chat', model: MODEL, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], temperature: 0 }), format: 'openai', state: 'assigned', attempts: 1 }
const sampled: TaskRow = { ...greedy, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], temperature: 0.8 }) }

describe('auditor', () => {
  let honest: Node[]
  let liar: Node

  beforeAll(async () => {
    honest = await Promise.all([node('truth'), node('truth'), node('truth')])
    liar = await node('lie')
  })

  it('keeps an answer two nodes agree on, and names the auditor', async () => {
    const { review, struck, calls } = setup(honest)
    const kept = await review(greedy, honest[0])
    expect(JSON.parse(kept.output).text).toBe('truth')
    expect(kept.auditedBy).toEqual([honest[1].peer.id])
    expect(calls).toEqual([honest[1].peer.id])
    expect(struck).toEqual([])
  })

  it('replaces a lie with the majority answer and strikes the liar', async () => {
    const { review, struck } = setup([liar, ...honest])
    const kept = await review(greedy, liar)
    expect(JSON.parse(kept.output).text).toBe('truth')
    expect(kept.peer).toBe(honest[0].peer.id)
    expect(struck).toEqual([liar.peer.id])
  })

  it('strikes an auditor that lies about an honest answer', async () => {
    const { review, struck } = setup([honest[0], liar, honest[1]])
    const kept = await review(greedy, honest[0])
    expect(JSON.parse(kept.output).text).toBe('truth')
    expect(kept.peer).toBe(honest[0].peer.id)
    expect(struck).toEqual([liar.peer.id])
  })

  it('throws AUDIT_INCONCLUSIVE when no two nodes agree', async () => {
    const others = await Promise.all([node('one'), node('two')])
    const { review, struck } = setup([liar, ...others])
    await expect(review(greedy, liar)).rejects.toMatchObject({ code: 'AUDIT_INCONCLUSIVE', retryable: true })
    expect(struck).toEqual([])
  })

  it('does not audit sampled (non-deterministic) requests, or without two other nodes', async () => {
    const first = setup([liar, ...honest])
    expect(JSON.parse((await first.review(sampled, liar)).output).text).toBe('lie')
    expect(first.calls).toEqual([])
    const few = setup([liar, honest[0]])
    expect(JSON.parse((await few.review(greedy, liar)).output).text).toBe('lie')
    expect(few.calls).toEqual([])
  })

  it('waits for a busy auditor and takes its next free slot before queued work', async () => {
    const { review, slotFreed, calls } = setup(honest)
    const busy = honest[1].peer
    busy.inflight = 1
    const pending = review(greedy, honest[0])
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(calls).toEqual([])
    // What the scheduler does when a task on that node ends.
    busy.inflight--
    expect(slotFreed(busy)).toBe(true)
    expect(JSON.parse((await pending).output).text).toBe('truth')
    expect(calls).toEqual([busy.id])
    expect(busy.inflight).toBe(0)
    expect(slotFreed(busy)).toBe(false)
  })
})
