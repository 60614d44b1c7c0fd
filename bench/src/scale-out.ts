/**
 * Scale-out benchmark (`pnpm bench scale-out [--runs 3] [--dispatch-lines 3000] [--ingest-lines 1000000]`),
 * coordinators on a throwaway PostgreSQL (Debian's binaries; see @dria/testkit startPostgres):
 * - failover: two coordinators, three synthetic nodes, a batch; the coordinator that took it is
 *   SIGKILLed at 50 %: the time until none of its task leases is left (the survivor took every
 *   one over, or finished it) and until the batch completed. Target ≤ 10 s.
 * - dispatch capacity with instant engines: lines/s from in_progress to completed, one
 *   coordinator on LevelDB (the baseline), one on PostgreSQL, two on PostgreSQL; runs
 *   alternate, medians. Targets: PostgreSQL ≥ 0.5× LevelDB; two ≥ 1.6× one where cores allow.
 * - ingest: one file of `--ingest-lines` lines validated and split into tasks, on LevelDB (the
 *   baseline) and PostgreSQL (COPY): lines/s and the coordinator's peak RSS. Targets ≥ 50,000
 *   lines/s and ≤ 300 MB on PostgreSQL.
 */
import { cpus } from 'node:os'
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import pg from 'pg'
import { DriaClient } from '@dria/cli'
import { median, postgresSkipReason, printTable, startCoordinatorProcess, startPostgres, startTestNode, tempDir } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess, TestPostgres } from '@dria/testkit'
import { peakRssMb, sampleRss, upload, writeLines } from './ingest-files.js'

const API_KEY = 'bench-key'
const MODEL = 'synthetic-1b'
const FAILOVER_TARGET_S = 10
const INGEST_TARGET_LINES_PER_S = 50_000
const RSS_TARGET_MB = 300

type Row = Record<string, string | number>

interface Cluster {
  coordinators: CoordinatorProcess[]
  nodes: NodeProcess[]
  stop: () => Promise<void>
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** `count` coordinators on `store` (shared files and secret), and synthetic nodes joined to all of them. */
async function startCluster (dir: string, options: { store: string, coordinators: number, nodes: number, slots: number, tokensPerSecond: number, args?: string[] }): Promise<Cluster> {
  const shared = ['--store', options.store, '--files-dir', join(dir, 'files'), '--secret-file', join(dir, 'server-secret'), '--max-lines', '5000000', '--max-file-bytes', String(4 * 1024 ** 3), ...(options.args ?? [])]
  const started: Array<CoordinatorProcess | NodeProcess> = []
  const stop = async (): Promise<void> => { await Promise.all(started.map(async p => await p.stop(2_000))) }
  try {
    // One after the other: the first creates the schema and the server secret.
    const coordinators: CoordinatorProcess[] = []
    for (let i = 0; i < options.coordinators; i++) {
      const coordinator = await startCoordinatorProcess({ dataDir: join(dir, `coordinator-${i}`), apiKeys: [API_KEY], args: shared })
      coordinators.push(coordinator)
      started.push(coordinator)
    }
    const nodes = await Promise.all(Array.from({ length: options.nodes }, async (_, i) => await startTestNode({
      dataDir: join(dir, `node-${i}`),
      bootstrap: coordinators.flatMap(c => c.multiaddrs),
      slots: options.slots,
      engine: { type: 'synthetic', models: [{ name: MODEL }], tokensPerSecond: options.tokensPerSecond }
    })))
    started.push(...nodes)
    for (const coordinator of coordinators) {
      const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
      for (let i = 0; ; i++) {
        const model = (await api.models()).find(m => m.id === MODEL) as unknown as { nodes: number } | undefined
        if (model?.nodes === options.nodes) break
        if (i > 300) throw new Error('nodes did not join')
        await sleep(100)
      }
    }
    return { coordinators, nodes, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Creates a batch of `lines` synthetic requests through the first coordinator. */
async function createBatch (dir: string, cluster: Cluster, lines: number): Promise<{ id: string, api: DriaClient }> {
  const path = join(dir, `input-${lines}.jsonl`)
  await writeLines(path, lines, { model: MODEL })
  const api = new DriaClient({ baseUrl: cluster.coordinators[0].url, apiKey: API_KEY })
  const file = await upload(cluster.coordinators[0].url, API_KEY, path)
  await rm(path)
  const batch = await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
  return { id: batch.id, api }
}

/** When the batch went from `from` to `to`, by the coordinators' own log timestamps. */
async function statusTimes (cluster: Cluster, batchId: string): Promise<{ inProgress: number, completed: number }> {
  const at = async (status: string): Promise<number> => await Promise.any(cluster.coordinators.map(async c =>
    (await c.waitFor('batch status', { timeoutMs: 600_000, where: l => l.batchId === batchId && l.status === status })).time as number))
  return { inProgress: await at('in_progress'), completed: await at('completed') }
}

async function dispatchRun (store: string, coordinators: number, lines: number): Promise<number> {
  const dir = await tempDir('dria-bench-dispatch-')
  // Trusted after one check and never audited: the coordinators, not verification, set the pace.
  const cluster = await startCluster(dir.path, { store, coordinators, nodes: 3, slots: 32, tokensPerSecond: 10_000_000, args: ['--trust-after', '1', '--audit-rate', '0'] })
  try {
    const { id } = await createBatch(dir.path, cluster, lines)
    const { inProgress, completed } = await statusTimes(cluster, id)
    return lines / ((completed - inProgress) / 1000)
  } finally {
    await cluster.stop()
    await dir.remove()
  }
}

async function failover (server: TestPostgres): Promise<Row> {
  const dir = await tempDir('dria-bench-failover-')
  const url = await server.createDatabase()
  const cluster = await startCluster(dir.path, { store: url, coordinators: 2, nodes: 3, slots: 4, tokensPerSecond: 400 })
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    const lines = 3_000
    const { id, api } = await createBatch(dir.path, cluster, lines)
    for (;;) {
      const batch = await api.getBatch(id)
      if ((batch.request_counts?.completed ?? 0) >= lines / 2) break
      await sleep(50)
    }
    const [victim, survivor] = cluster.coordinators
    const deadId = victim.lines.find(l => l.msg === 'coordinator ready')?.instanceId as string
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM task_queue WHERE lease_owner = $1', [deadId])
    await victim.kill()
    const killedAt = Date.now()
    let takenOverAt = 0
    for (;;) {
      const left = await db.query<{ n: string }>('SELECT count(*) AS n FROM task_queue WHERE lease_owner = $1', [deadId])
      if (Number(left.rows[0].n) === 0 && takenOverAt === 0) takenOverAt = Date.now()
      const done = survivor.lines.some(l => l.msg === 'batch status' && l.batchId === id && l.status === 'completed')
      if (done && takenOverAt !== 0) break
      if (Date.now() - killedAt > 120_000) throw new Error('the survivor did not finish the batch')
      await sleep(50)
    }
    const completed = (survivor.lines.find(l => l.msg === 'batch status' && l.batchId === id && l.status === 'completed')!.time as number)
    const takeover = (takenOverAt - killedAt) / 1000
    return {
      measure: 'failover (2 coordinators, SIGKILL of the one that took the batch at 50 %)',
      value: `${takeover.toFixed(1)} s until none of its ${rows[0].n} leased tasks is left; batch completed ${((completed - killedAt) / 1000).toFixed(1)} s after the kill`,
      target: `≤ ${FAILOVER_TARGET_S} s: ${takeover <= FAILOVER_TARGET_S ? 'ok' : 'OVER'}`
    }
  } finally {
    await db.end()
    await cluster.stop()
    await dir.remove()
  }
}

async function ingestRun (store: string, lines: number): Promise<{ linesPerSecond: number, peakMb: number, anonMb: number }> {
  const dir = await tempDir('dria-bench-ingest-')
  const cluster = await startCluster(dir.path, { store, coordinators: 1, nodes: 1, slots: 1, tokensPerSecond: 400 })
  try {
    const coordinator = cluster.coordinators[0]
    const path = join(dir.path, 'input.jsonl')
    await writeLines(path, lines, { model: MODEL })
    const file = await upload(coordinator.url, API_KEY, path)
    await rm(path)
    const sampler = sampleRss(coordinator.child.pid!)
    const api = new DriaClient({ baseUrl: coordinator.url, apiKey: API_KEY })
    const created = await api.createBatch({ input_file_id: file.id, endpoint: '/v1/chat/completions' })
    const createdAt = Date.now()
    const done = await coordinator.waitFor('batch status', { timeoutMs: 1_800_000, where: l => l.batchId === created.id && l.status !== 'validating' })
    const seconds = ((done.time as number) - createdAt) / 1000
    const peakMb = await peakRssMb(coordinator.child.pid!)
    const { anon } = sampler.stop()
    if (done.status !== 'in_progress') throw new Error(`batch is ${done.status as string}`)
    return { linesPerSecond: lines / seconds, peakMb, anonMb: anon }
  } finally {
    await cluster.stop()
    await dir.remove()
  }
}

function parseArgs (args: string[]): { runs: number, dispatchLines: number, ingestLines: number } {
  const options = { runs: 3, dispatchLines: 3_000, ingestLines: 1_000_000 }
  for (let i = 0; i < args.length; i++) {
    const value = Number(args[i + 1])
    if (!Number.isInteger(value) || value < 1) throw new Error(`${args[i]} takes a positive integer`)
    if (args[i] === '--runs') options.runs = value
    else if (args[i] === '--dispatch-lines') options.dispatchLines = value
    else if (args[i] === '--ingest-lines') options.ingestLines = value
    else throw new Error(`unknown argument '${args[i]}' (use --runs, --dispatch-lines, --ingest-lines)`)
    i++
  }
  return options
}

export async function main (args: string[] = []): Promise<void> {
  const { runs, dispatchLines, ingestLines } = parseArgs(args)
  const skip = postgresSkipReason()
  if (skip !== undefined) {
    process.stdout.write(`${skip}\n`)
    return
  }
  const server = await startPostgres()
  try {
    printTable([await failover(server)])

    const dispatch = { level: [] as number[], pg1: [] as number[], pg2: [] as number[] }
    for (let run = 0; run < runs; run++) {
      dispatch.level.push(await dispatchRun('level', 1, dispatchLines))
      dispatch.pg1.push(await dispatchRun(await server.createDatabase(), 1, dispatchLines))
      dispatch.pg2.push(await dispatchRun(await server.createDatabase(), 2, dispatchLines))
    }
    const [level, pg1, pg2] = [median(dispatch.level), median(dispatch.pg1), median(dispatch.pg2)]
    printTable([
      { setup: '1 coordinator, LevelDB (baseline)', 'lines/s (median)': level.toFixed(0), runs: dispatch.level.map(v => v.toFixed(0)).join(', '), ratio: '1.00×', target: '' },
      { setup: '1 coordinator, PostgreSQL', 'lines/s (median)': pg1.toFixed(0), runs: dispatch.pg1.map(v => v.toFixed(0)).join(', '), ratio: `${(pg1 / level).toFixed(2)}× LevelDB`, target: `≥ 0.5×: ${pg1 / level >= 0.5 ? 'ok' : 'UNDER'}` },
      { setup: '2 coordinators, PostgreSQL', 'lines/s (median)': pg2.toFixed(0), runs: dispatch.pg2.map(v => v.toFixed(0)).join(', '), ratio: `${(pg2 / pg1).toFixed(2)}× one on PostgreSQL`, target: `≥ 1.6× where cores allow (${cpus().length} cores here, shared with PostgreSQL and the nodes): ${pg2 / pg1 >= 1.6 ? 'ok' : 'UNDER'}` }
    ])

    const levelIngest = await ingestRun('level', ingestLines)
    const pgIngest = await ingestRun(await server.createDatabase(), ingestLines)
    printTable([
      { store: 'LevelDB (baseline)', lines: ingestLines, 'lines/s': levelIngest.linesPerSecond.toFixed(0), 'peak RSS MB': `${levelIngest.peakMb.toFixed(0)} (anon ${levelIngest.anonMb.toFixed(0)})`, ratio: '1.00×', target: '' },
      {
        store: 'PostgreSQL (COPY)',
        lines: ingestLines,
        'lines/s': pgIngest.linesPerSecond.toFixed(0),
        'peak RSS MB': `${pgIngest.peakMb.toFixed(0)} (anon ${pgIngest.anonMb.toFixed(0)})`,
        ratio: `${(pgIngest.linesPerSecond / levelIngest.linesPerSecond).toFixed(2)}×`,
        target: `≥ ${INGEST_TARGET_LINES_PER_S.toLocaleString('en-US')}/s: ${pgIngest.linesPerSecond >= INGEST_TARGET_LINES_PER_S ? 'ok' : 'UNDER'}; ≤ ${RSS_TARGET_MB} MB: ${pgIngest.peakMb <= RSS_TARGET_MB ? 'ok' : 'OVER'}`
      }
    ])
  } finally {
    await server.stop()
  }
}
