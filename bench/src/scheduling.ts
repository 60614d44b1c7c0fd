/**
 * Scheduling benchmark (`pnpm bench scheduling [scenario...]`): a real coordinator process and
 * real node daemons around synthetic engines (deterministic text at a set token rate, so
 * capacities of 1:2:4 fit on a 2-core machine). Nodes are operator-run (`--verifier`), so
 * verification does not add work: this measures scheduling alone. Every ratio is against a
 * baseline measured in the same run; rounds alternate and medians are reported.
 *
 * Scenarios: faults (a lying, black-hole or frozen peer among three honest nodes), hetero
 * (capacities 1:2:4 against the ideal and round-robin, with and without a CPU hog), kill (one
 * of three killed or frozen at 50%), dispatch (instant engines: tasks/s and coordinator CPU
 * per task against a plain script driving the same nodes), realtime-style short and long
 * lines on llama.cpp against a plain script (network).
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DriaClient } from '@dria/cli'
import { createDriaHost } from '@dria/p2p'
import { TaskKind } from '@dria/protocol'
import {
  median, printTable, startCoordinatorProcess, startHostilePeer, startNodeProcess, startTestNode, tempDir, testModels
} from '@dria/testkit'
import type { CoordinatorProcess, HostileMode, HostilePeer, NodeProcess } from '@dria/testkit'
import { directSession, runDirect } from './direct.js'

const MODEL = 'synthetic-1b'
const DIGEST = `sha256:${createHash('sha256').update(MODEL).digest('hex')}`
const API_KEY = 'bench-scheduling'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface NodeSpec { slots: number, tokensPerSecond: number }

interface Net {
  dir: string
  coordinator: CoordinatorProcess
  nodes: NodeProcess[]
  api: DriaClient
  stop(): Promise<void>
}

/** A node identity made up front, so the coordinator can be told it is operator-run. */
async function identity (dataDir: string): Promise<string> {
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'peer-key'), privateKeyToProtobuf(key), { mode: 0o600 })
  return peerIdFromPrivateKey(key).toString()
}

async function startNet (specs: NodeSpec[], coordinatorArgs: string[] = []): Promise<Net> {
  const dir = await tempDir('dria-bench-scheduling-')
  const dataDirs = specs.map((_, i) => join(dir.path, `node-${i}`))
  const ids = await Promise.all(dataDirs.map(identity))
  const coordinator = await startCoordinatorProcess({
    dataDir: join(dir.path, 'coordinator'),
    apiKeys: [API_KEY],
    args: [...ids.flatMap(id => ['--verifier', id]), ...coordinatorArgs]
  })
  const nodes = await Promise.all(specs.map(async (spec, i) => await startTestNode({
    dataDir: dataDirs[i],
    bootstrap: coordinator.multiaddrs,
    slots: spec.slots,
    queueDepth: spec.slots,
    engine: { type: 'synthetic', models: [{ name: MODEL }], tokensPerSecond: spec.tokensPerSecond }
  })))
  const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
  for (let i = 0; i < 300 && !(await api.models()).some(m => m.id === MODEL && (m as { nodes?: number }).nodes === specs.length); i++) await sleep(100)
  return {
    dir: dir.path,
    coordinator,
    nodes,
    api,
    async stop () {
      await Promise.all([...nodes, coordinator].map(async p => await p.stop(3_000)))
      await dir.remove()
    }
  }
}

const body = (i: number, maxTokens: number): Record<string, unknown> => ({ model: MODEL, messages: [{ role: 'user', content: `line ${i}` }], max_tokens: maxTokens, temperature: 0 })
const line = (i: number, maxTokens: number): string => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: '/v1/chat/completions', body: body(i, maxTokens) })
const encoded = (i: number, maxTokens: number): Uint8Array => new TextEncoder().encode(JSON.stringify(body(i, maxTokens)))

interface BatchRun { seconds: number, failed: number, coordinatorCpu: number }

/** Runs one batch; `during` is started once it is in progress. Time is in progress → completed. */
async function runBatch (net: Net, lines: number, maxTokens: number, during?: (progress: () => Promise<number>) => Promise<void>): Promise<BatchRun> {
  const path = join(net.dir, `batch-${Date.now()}.jsonl`)
  await writeFile(path, Array.from({ length: lines }, (_, i) => line(i, maxTokens)).join('\n') + '\n')
  const file = await net.api.uploadFile(path)
  const created = await net.api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
  let started = 0
  let cpuStart = 0
  let side: Promise<void> | undefined
  for (;;) {
    const batch = await net.api.getBatch(created.id)
    if (started === 0 && (batch.status === 'in_progress' || batch.status === 'completed')) {
      started = performance.now()
      cpuStart = cpuSeconds(net.coordinator.child.pid!)
      side = during?.(async () => { const b = await net.api.getBatch(created.id); return (b.request_counts?.completed ?? 0) / lines })
    }
    if (batch.status === 'completed' || batch.status === 'failed') {
      const run = { seconds: (performance.now() - started) / 1000, failed: batch.request_counts?.failed ?? lines, coordinatorCpu: cpuSeconds(net.coordinator.child.pid!) - cpuStart }
      await side
      return run
    }
    await sleep(25)
  }
}

/** A busy loop in another process: the CPU load the issue measured under. */
function cpuHog (): { stop(): void } {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
  return { stop: () => { child.kill('SIGKILL') } }
}

async function faults (rounds: number): Promise<Array<Record<string, string | number>>> {
  const rows: Array<Record<string, string | number>> = []
  const lines = 600
  for (const mode of ['lying-capacity', 'black-hole', 'frozen'] as Array<HostileMode | 'frozen'>) {
    const clean: number[] = []
    const faulty: number[] = []
    let failed = 0
    for (let round = 0; round < rounds; round++) {
      const net = await startNet([{ slots: 4, tokensPerSecond: 400 }, { slots: 4, tokensPerSecond: 400 }, { slots: 4, tokensPerSecond: 400 }])
      try {
        clean.push((await runBatch(net, lines, 16)).seconds)
        let peer: HostilePeer | undefined
        let frozen: NodeProcess | undefined
        if (mode === 'frozen') {
          // A fourth node that joins, then freezes while the batch runs.
          const dataDir = join(net.dir, 'frozen')
          frozen = await startTestNode({ dataDir, bootstrap: net.coordinator.multiaddrs, slots: 4, engine: { type: 'synthetic', models: [{ name: MODEL }], tokensPerSecond: 400 } })
          for (let i = 0; i < 100 && !(await net.api.models()).some(m => (m as { nodes?: number }).nodes === 4); i++) await sleep(100)
        } else {
          peer = await startHostilePeer({ bootstrap: net.coordinator.multiaddrs, mode, model: MODEL, digest: DIGEST })
        }
        const run = await runBatch(net, lines, 16, async () => { frozen?.child.kill('SIGSTOP') })
        faulty.push(run.seconds)
        failed += run.failed
        frozen?.child.kill('SIGCONT')
        await frozen?.kill()
        await peer?.stop()
      } finally {
        await net.stop()
      }
    }
    rows.push({ scenario: `one ${mode} peer among 3 honest`, 'baseline s': median(clean), 's': median(faulty), ratio: median(faulty) / median(clean), 'failed lines': failed, target: '0 failed, ≤ 1.2×' })
  }
  return rows
}

/** Round-robin over direct sessions: task i to node i mod n, each node within its slots. */
async function roundRobin (net: Net, specs: NodeSpec[], lines: number, maxTokens: number): Promise<number> {
  const host = await createDriaHost({ listenPort: 0 })
  try {
    const sessions = await Promise.all(net.nodes.map(async node => await directSession(host, node)))
    const started = performance.now()
    await runDirect(sessions, lines, specs.map(spec => spec.slots), (i, send) => ({
      taskId: `rr-${i}-${send}`, attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model: MODEL, body: encoded(i, maxTokens), timeoutMs: 60_000
    }))
    sessions.forEach(session => { session.close() })
    return (performance.now() - started) / 1000
  } finally {
    await host.stop()
  }
}

async function hetero (rounds: number): Promise<Array<Record<string, string | number>>> {
  const rate = 200
  const specs: NodeSpec[] = [{ slots: 1, tokensPerSecond: rate }, { slots: 2, tokensPerSecond: rate }, { slots: 4, tokensPerSecond: rate }]
  const lines = 700
  const maxTokens = 16
  const ideal = lines * maxTokens / (7 * rate)
  const rows: Array<Record<string, string | number>> = []
  for (const loaded of [false, true]) {
    const network: number[] = []
    const rr: number[] = []
    const shares: string[] = []
    for (let round = 0; round < rounds; round++) {
      const net = await startNet(specs)
      const hog = loaded ? cpuHog() : undefined
      try {
        network.push((await runBatch(net, lines, maxTokens)).seconds)
        const counts = net.nodes.map(node => node.lines.filter(l => l.msg === 'task finished').length)
        shares.push(counts.join('/'))
        rr.push(await roundRobin(net, specs, lines, maxTokens))
      } finally {
        hog?.stop()
        await net.stop()
      }
    }
    const label = loaded ? ' (CPU hog running)' : ''
    rows.push({ scenario: `1:2:4 capacities, network${label}`, 'baseline s': ideal, 's': median(network), ratio: median(network) / ideal, 'failed lines': `shares ${shares.join(', ')} (ideal 100/200/400)`, target: '≤ 1.10× ideal' })
    rows.push({ scenario: `1:2:4 capacities, round-robin${label}`, 'baseline s': ideal, 's': median(rr), ratio: median(rr) / ideal, 'failed lines': '', target: 'for comparison' })
  }
  return rows
}

async function kill (rounds: number): Promise<Array<Record<string, string | number>>> {
  const rows: Array<Record<string, string | number>> = []
  const specs: NodeSpec[] = [{ slots: 4, tokensPerSecond: 400 }, { slots: 4, tokensPerSecond: 400 }, { slots: 4, tokensPerSecond: 400 }]
  for (const how of ['killed', 'frozen'] as const) {
    const clean: number[] = []
    const faulty: number[] = []
    const reassign: number[] = []
    let failed = 0
    for (let round = 0; round < rounds; round++) {
      const net = await startNet(specs)
      try {
        clean.push((await runBatch(net, 900, 16)).seconds)
        const [victim] = net.nodes
        const run = await runBatch(net, 900, 16, async progress => {
          while (await progress() < 0.5) await sleep(20)
          const at = Date.now()
          if (how === 'killed') await victim.kill()
          else victim.child.kill('SIGSTOP')
          for (let i = 0; i < 600; i++) {
            const gone = net.coordinator.lines.find(l => l.msg === 'node gone' && l.peer === victim.peerId && (l.time as number) >= at)
            if (gone !== undefined) {
              reassign.push(((gone.time as number) - at) / 1000)
              break
            }
            await sleep(50)
          }
        })
        faulty.push(run.seconds)
        failed += run.failed
        victim.child.kill('SIGCONT')
      } finally {
        await net.stop()
      }
    }
    rows.push({
      scenario: `1 of 3 nodes ${how} at 50%`,
      'baseline s': median(clean),
      's': median(faulty),
      ratio: median(faulty) / median(clean),
      'failed lines': `${failed}; tasks taken back after ${median(reassign).toFixed(1)} s`,
      target: how === 'killed' ? '≤ 1.3×' : '≤ 1.4×, taken back ≤ 10 s'
    })
  }
  return rows
}

async function dispatch (rounds: number): Promise<Array<Record<string, string | number>>> {
  const tasks = 20_000
  const specs: NodeSpec[] = Array.from({ length: 4 }, () => ({ slots: 64, tokensPerSecond: 0 }))
  const network: number[] = []
  const cpu: number[] = []
  const direct: number[] = []
  for (let round = 0; round < rounds; round++) {
    const net = await startNet(specs)
    try {
      const run = await runBatch(net, tasks, 4)
      network.push(tasks / run.seconds)
      cpu.push(run.coordinatorCpu * 1000 / tasks)
      // A plain script: the same nodes driven straight over sessions, all their slots full.
      const host = await createDriaHost({ listenPort: 0 })
      try {
        const sessions = await Promise.all(net.nodes.map(async node => await directSession(host, node)))
        const started = performance.now()
        // Each node's slots and queue full.
        await runDirect(sessions, tasks, 2 * 64, (i, send) => ({ taskId: `d-${i}-${send}`, attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model: MODEL, body: encoded(i, 4), timeoutMs: 60_000 }))
        direct.push(tasks / ((performance.now() - started) / 1000))
        sessions.forEach(session => { session.close() })
      } finally {
        await host.stop()
      }
    } finally {
      await net.stop()
    }
  }
  return [
    { scenario: 'dispatch, instant engines (4 × 64 slots), plain script (baseline)', 'baseline s': '', 's': '', ratio: median(direct), 'failed lines': 'tasks/s', target: '' },
    { scenario: 'dispatch through the coordinator (a 20,000-line batch)', 'baseline s': '', 's': '', ratio: median(network), 'failed lines': `tasks/s = ${(median(network) / median(direct)).toFixed(2)}× the script`, target: '≥ 5,000 tasks/s' },
    { scenario: 'coordinator CPU per task', 'baseline s': '', 's': '', ratio: median(cpu), 'failed lines': 'ms', target: '≤ 0.2 ms' }
  ]
}

/** Real llama.cpp nodes: a batch through the network against the same lines sent straight to the nodes. */
async function engines (rounds: number): Promise<Array<Record<string, string | number>>> {
  const models = await testModels()
  const rows: Array<Record<string, string | number>> = []
  const dir = await tempDir('dria-bench-engines-')
  const dataDirs = [0, 1].map(i => join(dir.path, `node-${i}`))
  const ids = await Promise.all(dataDirs.map(identity))
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY], args: ids.flatMap(id => ['--verifier', id]) })
  const nodes = await Promise.all(dataDirs.map(async dataDir => await startNodeProcess({ dataDir, bootstrap: coordinator.multiaddrs, args: ['--models-dir', models.dir, '--models', models.main, '--slots', '4'] })))
  const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
  const host = await createDriaHost({ listenPort: 0 })
  try {
    for (let i = 0; i < 300 && !(await api.models()).some(m => m.id === models.main && (m as { nodes?: number }).nodes === 2); i++) await sleep(100)
    const sessions = await Promise.all(nodes.map(async node => await directSession(host, node)))
    for (const maxTokens of [16, 128]) {
      const lines = maxTokens === 16 ? 400 : 200
      const story = (i: number): Record<string, unknown> => ({ model: models.main, messages: [{ role: 'user', content: `Once upon a time, in story ${i},` }], max_tokens: maxTokens, temperature: 0 })
      const networkTps: number[] = []
      const directTps: number[] = []
      const viaNetwork = async (round: number): Promise<number> => {
        const path = join(dir.path, `e-${maxTokens}-${round}.jsonl`)
        await writeFile(path, Array.from({ length: lines }, (_, i) => JSON.stringify({ custom_id: `e${i}`, method: 'POST', url: '/v1/chat/completions', body: story(i) })).join('\n') + '\n')
        const file = await api.uploadFile(path)
        const started = performance.now()
        const batch = await api.waitForBatch((await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })).id, { intervalMs: 25 })
        return (batch.usage?.output_tokens ?? 0) / ((performance.now() - started) / 1000)
      }
      const direct = async (round: number): Promise<number> => {
        const started = performance.now()
        // Each node's 4 slots and 4 queued, as the coordinator fills them.
        const replies = await runDirect(sessions, lines, 8, (i, send) => ({
          taskId: `e-${maxTokens}-${round}-${i}-${send}`, attempt: 1, kind: TaskKind.TASK_KIND_CHAT, model: models.main, body: new TextEncoder().encode(JSON.stringify(story(i))), timeoutMs: 120_000, seed: 1
        }), 120_000)
        const tokens = replies.reduce((sum, reply) => sum + (reply.result?.usage?.completionTokens ?? 0), 0)
        return tokens / ((performance.now() - started) / 1000)
      }
      for (let round = 0; round < rounds; round++) {
        // Alternating which goes first, so neither always runs on a warmer (or cooler) machine.
        if (round % 2 === 0) {
          networkTps.push(await viaNetwork(round))
          directTps.push(await direct(round))
        } else {
          directTps.push(await direct(round))
          networkTps.push(await viaNetwork(round))
        }
      }
      rows.push({ scenario: `${maxTokens}-token lines on 2 llama.cpp nodes (${models.main}), network vs plain script`, 'baseline s': median(directTps), 's': median(networkTps), ratio: median(networkTps) / median(directTps), 'failed lines': 'tokens/s', target: maxTokens === 16 ? '≥ 0.9×' : '≥ 0.97×' })
    }
    sessions.forEach(session => { session.close() })
  } finally {
    await host.stop()
    await Promise.all([...nodes, coordinator].map(async p => await p.stop(3_000)))
    await dir.remove()
  }
  return rows
}

const SCENARIOS = { faults, hetero, kill, dispatch, engines } as const

export async function main (args: string[] = []): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
  const chosen = args.length === 0 ? Object.keys(SCENARIOS) : args
  const rows: Array<Record<string, string | number>> = []
  for (const name of chosen) {
    const scenario = SCENARIOS[name as keyof typeof SCENARIOS]
    if (scenario === undefined) throw new Error(`unknown scenario ${name}; choose from ${Object.keys(SCENARIOS).join(', ')}`)
    rows.push(...await scenario(rounds))
  }
  printTable(rows)
}
