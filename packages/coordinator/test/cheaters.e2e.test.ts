import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { derivedSeed } from '@dria/coordinator'
import { MADE_UP_ANSWER, createSyntheticEngine } from '@dria/testkit'
import type { NodeProcess } from '@dria/testkit'
import {
  SYNTHETIC_MODEL, createBatch, openaiClient, readJsonl, requestLines, startSyntheticNetwork, waitForBatch, waitForModelNodes
} from './harness.js'
import type { SyntheticNodeSpec } from './harness.js'

/**
 * Cheating nodes among honest ones, on synthetic engines (fast, deterministic, verifiable by
 * recomputation like a real scorer): whatever a cheater does, every line of the output file is
 * what the model produces, the cheater is quarantined within its batch, and no honest node is
 * struck. Lines are greedy, seeded at temperature 0.8, and unseeded at the default temperature.
 */

const API_KEY = 'sk-cheaters'
const honest = createSyntheticEngine({ models: [{ name: SYNTHETIC_MODEL }] })

type Net = Awaited<ReturnType<typeof startSyntheticNetwork>>

interface OutputLine { id: string, custom_id: string, response: { body: { choices: Array<{ message: { content: string } }>, usage: { prompt_tokens: number, completion_tokens: number } } } }

function batchLines (count: number, prefix: string): unknown[] {
  return requestLines(count, '/v1/chat/completions', i => ({
    model: SYNTHETIC_MODEL,
    messages: [{ role: 'user', content: `${prefix} line ${i}` }],
    max_tokens: 12,
    // A third greedy, a third seeded, a third unseeded (the coordinator picks the seed).
    ...[{ temperature: 0 }, { temperature: 0.8, seed: 1000 + i }, {}][i % 3]
  }), prefix)
}

/** What an honest node answers to line `i` of batch `batchId`. */
async function expectedText (batchId: string, prefix: string, i: number): Promise<string> {
  const sampling = [{ temperature: 0 }, { temperature: 0.8, seed: 1000 + i }, { seed: derivedSeed(`${batchId}#${i}`) }][i % 3]
  const result = await honest.chat({ model: SYNTHETIC_MODEL, messages: [{ role: 'user', content: `${prefix} line ${i}` }], maxTokens: 12, ...sampling })
  return result.text
}

/**
 * Runs one batch (with `meanwhile` once it is created) and checks every line is the honest
 * answer with honest usage; returns the batch id.
 */
async function runHonestly (network: Net, prefix: string, count: number, meanwhile?: () => Promise<void>): Promise<string> {
  const openai = openaiClient(network.coordinator.url, API_KEY)
  const { id } = await createBatch(openai, batchLines(count, prefix))
  await meanwhile?.()
  // Generous: on a machine loaded several times over (a fresh clone's suite beside benchmarks) a
  // 240-line run with every result checked took over 90 s once; alone it takes 15–25 s.
  const batch = await waitForBatch(openai, id, { timeoutMs: 150_000 })
  expect(batch.status).toBe('completed')
  expect(batch.request_counts).toEqual({ total: count, completed: count, failed: 0 })
  const results = await readJsonl<OutputLine>(openai, batch.output_file_id)
  expect(results).toHaveLength(count)
  let inputTokens = 0
  for (const result of results) {
    const i = Number(result.custom_id.slice(prefix.length + 1))
    const { content } = result.response.body.choices[0].message
    expect(content).not.toBe(MADE_UP_ANSWER)
    expect(content, result.custom_id).toBe(await expectedText(id, prefix, i))
    expect(result.response.body.usage.completion_tokens).toBe(12)
    inputTokens += result.response.body.usage.prompt_tokens
  }
  // Usage is the verifiers' count, never a cheater's.
  expect(batch.usage?.input_tokens).toBe(inputTokens)
  expect(inputTokens).toBeLessThan(count * 10)
  return id
}

/** Serves the model under its name with other weights (its own, true digest). */
const IMPOSTOR: SyntheticNodeSpec = { models: [{ name: SYNTHETIC_MODEL, digest: 'sha256:' + createHash('sha256').update('other weights').digest('hex') }] }

interface NetworkNode { peer_id: string, models: Array<{ name: string, accepted: boolean }>, verified: { tasks: number } }

async function networkNode (network: Net, peer: string): Promise<NetworkNode | undefined> {
  const response = await fetch(`${network.coordinator.url}/api/v0/network/nodes`, { headers: { authorization: `Bearer ${API_KEY}` } })
  const { data } = await response.json() as { data: NetworkNode[] }
  return data.find(node => node.peer_id === peer)
}

async function waitForPeer (network: Net, peer: string): Promise<void> {
  for (let i = 0; i < 300 && await networkNode(network, peer) === undefined; i++) await new Promise(resolve => setTimeout(resolve, 100))
}

const acceptedFor = async (network: Net, peer: string): Promise<boolean | undefined> => (await networkNode(network, peer))?.models.find(m => m.name === SYNTHETIC_MODEL)?.accepted
const verifiedTasks = async (network: Net, peer: string): Promise<number | undefined> => (await networkNode(network, peer))?.verified.tasks

const quarantined = (network: Net, peer: string): boolean => network.coordinator.lines.some(l => l.msg === 'node quarantined' && l.peer === peer)

function expectHonestUnharmed (network: Net, honestNodes: NodeProcess[]): void {
  for (const node of honestNodes) {
    expect(network.coordinator.lines.some(l => (l.msg === 'node quarantined' || l.msg === 'node struck') && l.peer === node.peerId), node.peerId).toBe(false)
  }
}

describe('cheaters among honest nodes (synthetic engines)', { timeout: 180_000 }, () => {
  let network: Net | undefined

  afterEach(async () => {
    await network?.stop()
    network = undefined
  })

  it('each kind of lie, all at once: no lie in the output, every liar quarantined, no honest node struck', async () => {
    const cheats: SyntheticNodeSpec[] = [
      { cheat: { kind: 'made-up' } },
      { cheat: { kind: 'one-in', n: 5 } },
      { cheat: { kind: 'subtle' } },
      { cheat: { kind: 'truncate' } },
      { cheat: { kind: 'short-length' } },
      { cheat: { kind: 'garbage' } },
      { cheat: { kind: 'inflate-usage', factor: 50 } }
    ]
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, {}, ...cheats] })
    await waitForModelNodes(openaiClient(network.coordinator.url, API_KEY), SYNTHETIC_MODEL, 3 + cheats.length)
    await runHonestly(network, 'mixed', 300)
    const [h1, h2, h3, ...liars] = network.nodes
    for (const liar of liars) expect(quarantined(network, liar.peerId), liar.peerId).toBe(true)
    expectHonestUnharmed(network, [h1, h2, h3])
  })

  it('two colluders with the same made-up answer, who vouch for each other and fail every honest result as verifiers', async () => {
    const collude: SyntheticNodeSpec = { cheat: { kind: 'made-up' }, verifier: { kind: 'collude', answer: MADE_UP_ANSWER } }
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, {}, collude, collude] })
    await waitForModelNodes(openaiClient(network.coordinator.url, API_KEY), SYNTHETIC_MODEL, 5)
    await runHonestly(network, 'collusion', 200)
    const [h1, h2, h3, c1, c2] = network.nodes
    expect(quarantined(network, c1.peerId)).toBe(true)
    expect(quarantined(network, c2.peerId)).toBe(true)
    expectHonestUnharmed(network, [h1, h2, h3])
  })

  it('colluders who join a network of trusted nodes are outvoted and quarantined, even as many as the honest nodes', async () => {
    const collude: SyntheticNodeSpec = { cheat: { kind: 'made-up' }, verifier: { kind: 'collude', answer: MADE_UP_ANSWER } }
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}], coordinatorArgs: ['--trust-after', '10'] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 2)
    await runHonestly(network, 'earn', 60)
    const [h1, h2] = network.nodes
    for (const node of [h1, h2]) expect(network.coordinator.lines.some(l => l.msg === 'node trusted' && l.peer === node.peerId)).toBe(true)
    const [c1, c2] = await Promise.all([network.addNode(collude), network.addNode(collude)])
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 4)
    await runHonestly(network, 'outvoted', 150)
    expect(quarantined(network, c1.peerId)).toBe(true)
    expect(quarantined(network, c2.peerId)).toBe(true)
    expectHonestUnharmed(network, [h1, h2])
  })

  it('colluders as many as the honest nodes, none trusted yet: no lie delivered, undecidable lines fail with a code, nobody framed', async () => {
    const collude: SyntheticNodeSpec = { cheat: { kind: 'made-up' }, verifier: { kind: 'collude', answer: MADE_UP_ANSWER } }
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, collude, collude] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 4)
    const count = 30
    const { id } = await createBatch(openai, batchLines(count, 'split'))
    const batch = await waitForBatch(openai, id, { timeoutMs: 90_000 })
    expect(batch.status).toBe('completed')
    expect(batch.request_counts!.completed + batch.request_counts!.failed).toBe(count)
    for (const result of await readJsonl<OutputLine>(openai, batch.output_file_id)) {
      expect(result.response.body.choices[0].message.content).toBe(await expectedText(id, 'split', Number(result.custom_id.slice(6))))
    }
    const errors = await readJsonl<{ error: { code: string } | null, response: { body: { error: { code: string } } } | null }>(openai, batch.error_file_id)
    expect(errors).toHaveLength(batch.request_counts!.failed)
    for (const line of errors) expect(line.error?.code ?? line.response?.body.error.code).toBe('verification_inconclusive')
    expectHonestUnharmed(network, network.nodes.slice(0, 2))
  })

  it('a cheater that hangs up and redials after every 2 answers: trust belongs to its identity, not its connection', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}, { cheat: { kind: 'made-up' }, flapEveryTasks: 2 }] })
    await waitForModelNodes(openaiClient(network.coordinator.url, API_KEY), SYNTHETIC_MODEL, 3)
    await runHonestly(network, 'redial', 150)
    expect(quarantined(network, network.nodes[2].peerId)).toBe(true)
    expectHonestUnharmed(network, network.nodes.slice(0, 2))
  })

  it('a node serving other weights under the name (its own digest) gets no work; identity churn gets nothing past the checks', async () => {
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, {}] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 2)
    // Joining after the honest pair, the impostor's digest is never accepted (one of three); had it
    // come second, it would have tied with the first honest node's.
    const impostor = await network.addNode(IMPOSTOR)
    await waitForPeer(network, impostor.peerId)
    expect(await acceptedFor(network, impostor.peerId)).toBe(false)
    const churn = (async () => {
      // A liar that comes back under a new identity every few seconds.
      for (let i = 0; i < 3; i++) {
        const liar = await network!.addNode({ cheat: { kind: 'made-up' } })
        await new Promise(resolve => setTimeout(resolve, 1_500))
        await liar.kill()
      }
    })()
    await runHonestly(network, 'identity', 240)
    await churn
    const impostorTasks = impostor.lines.filter(l => l.msg === 'task finished').length
    expect(impostorTasks).toBe(0)
    expectHonestUnharmed(network, network.nodes)
  })

  it('results of weights admitted on a tie are redone once the tie breaks, and only honest lines reach the output', async () => {
    // One honest node and one impostor: neither digest outnumbers the other, so both are
    // accepted and neither can check the other; every result waits for a verifier.
    network = await startSyntheticNetwork({ apiKeys: [API_KEY], nodes: [{}, IMPOSTOR] })
    const openai = openaiClient(network.coordinator.url, API_KEY)
    await waitForModelNodes(openai, SYNTHETIC_MODEL, 2)
    const [first, impostor] = network.nodes
    let second: NodeProcess | undefined
    await runHonestly(network, 'tie', 60, async () => {
      await impostor.waitFor('task finished')
      // A second honest node breaks the tie: the impostor's waiting results can never be checked.
      second = await network!.addNode({})
    })
    expect(await acceptedFor(network, impostor.peerId)).toBe(false)
    expect(await verifiedTasks(network, impostor.peerId)).toBe(0)
    expectHonestUnharmed(network, [first, second!])
  })

  it('a cheater that earns trust first, then lies: caught by sampled checks, its lines of the running batch redone', async () => {
    network = await startSyntheticNetwork({
      apiKeys: [API_KEY],
      nodes: [{}, {}, { cheat: { kind: 'late', after: 25 } }],
      coordinatorArgs: ['--trust-after', '10', '--audit-rate', '0.3']
    })
    await waitForModelNodes(openaiClient(network.coordinator.url, API_KEY), SYNTHETIC_MODEL, 3)
    await runHonestly(network, 'late', 300)
    expect(quarantined(network, network.nodes[2].peerId)).toBe(true)
    expect(network.coordinator.lines.some(l => l.msg === 'node trusted' && l.peer === network!.nodes[2].peerId)).toBe(true)
    expectHonestUnharmed(network, network.nodes.slice(0, 2))
  })
})
