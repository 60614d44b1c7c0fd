import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, printTable, startCoordinatorProcess, startNodeProcess, tempDir } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'
import { MODEL, MODELS_DIR, sleep } from '../harness.js'

/** Shared set-up of the reliability suite: real processes, a coordinator that can be killed and restarted. */

export interface Cluster {
  readonly coordinator: CoordinatorProcess
  readonly nodes: NodeProcess[]
  /** The coordinator's data dir (kept across restarts). */
  readonly dataDir: string
  readonly url: string
  /** SIGKILL, like a crash. */
  kill(): Promise<void>
  /** Starts the coordinator again on the same data dir and p2p port, and waits for the nodes. */
  start(): Promise<void>
  restart(): Promise<void>
  /** Peak RSS (VmHWM) of the current coordinator process, MB. */
  peakRssMb(): Promise<number>
  stop(): Promise<void>
}

export async function peakRssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
}

export async function startCluster (options: { apiKeys: string[], nodes?: number, slots?: number, args?: string[], env?: Record<string, string> }): Promise<Cluster> {
  const dir = await tempDir('dria-reliability-')
  const dataDir = join(dir.path, 'coordinator')
  const p2pPort = await freePort()
  let coordinator: CoordinatorProcess | undefined
  const nodes: NodeProcess[] = []
  const boot = async (): Promise<CoordinatorProcess> => await startCoordinatorProcess({
    dataDir,
    apiKeys: options.apiKeys,
    // A lone node's results cannot be checked by another: accepted unverified, as in the e2e harness.
    args: ['--p2p-port', String(p2pPort), ...((options.nodes ?? 0) < 2 ? ['--accept-unverified'] : []), ...(options.args ?? [])],
    env: options.env,
    // DRIA_RELIABILITY_ECHO=1 shows the coordinator's log (debugging a failed run).
    echo: process.env.DRIA_RELIABILITY_ECHO === '1'
  })
  const waitForNodes = async (): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      const answer = await fetch(`${coordinator!.url}/v1/models`, { headers: { authorization: `Bearer ${options.apiKeys[0]}` } })
      const { data } = await answer.json() as { data: Array<{ id: string, nodes: number }> }
      if (data.some(m => m.id === MODEL && m.nodes === nodes.length)) return
      await sleep(100)
    }
    throw new Error('the nodes did not come back')
  }
  const cluster: Cluster = {
    get coordinator () { return coordinator! },
    nodes,
    dataDir,
    get url () { return coordinator!.url },
    async kill () { await coordinator?.kill() },
    async start () {
      coordinator = await boot()
      if (nodes.length > 0) await waitForNodes()
    },
    async restart () {
      await cluster.kill()
      await cluster.start()
    },
    peakRssMb: async () => await peakRssMb(coordinator!.child.pid!),
    async stop () {
      await Promise.all([coordinator, ...nodes].map(async p => await p?.stop()))
      await dir.remove()
    }
  }
  try {
    coordinator = await boot()
    nodes.push(...await Promise.all(Array.from({ length: options.nodes ?? 0 }, async (_, i) => await startNodeProcess({
      dataDir: join(dir.path, `node-${i}`),
      bootstrap: coordinator!.multiaddrs,
      args: ['--models-dir', MODELS_DIR, '--models', MODEL, '--slots', String(options.slots ?? 1)]
    }))))
    if (nodes.length > 0) await waitForNodes()
    return cluster
  } catch (err) {
    await cluster.stop()
    throw err
  }
}

/** Upload leftovers in the coordinator's files dir (temp bodies and scratch dirs). */
export async function leftovers (cluster: Cluster): Promise<string[]> {
  return (await readdir(join(cluster.dataDir, 'files'))).filter(name => name.startsWith('upload-'))
}

/** A reliability result line: what was tried, how often, what was lost. */
export interface ResultRow {
  area: string
  scenario: string
  runs: number
  checked: string
  lost: number
  [key: string]: string | number
}

export function printResults (title: string, rows: ResultRow[]): void {
  process.stdout.write(`\n### ${title}\n`)
  printTable(rows)
}
