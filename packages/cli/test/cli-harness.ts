import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import OpenAI from 'openai'
import { BINARIES, freePort, startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'

export { freePort }

/** Shared set-up of the CLI e2e tests: real coordinator and node processes, the real `dria` binary. */

/** The shared test models when they are beside the repository, else the project's generated ones. */
export const models = await testModels()
export const CHAT_MODEL = models.chat
export const TEXT_MODEL = models.main
/** A third, different model (served as a vision model through the Ollama-protocol test server). */
export const OTHER_MODEL = models.other
export const MODELS_DIR = models.dir

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliProcess {
  child: ChildProcess
  /** Everything printed on stderr so far. */
  stderr: () => string
  done: Promise<CliRun>
}

/** The environment without the runner's own DRIA_* settings, plus `env`. */
function cleanEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DRIA_') && !key.startsWith('OPENAI_')))
  return { ...base, ...env }
}

/** Starts `dria <args>` as a real process (stdin closed, not a terminal). */
export function spawnCli (args: string[], options: { env?: Record<string, string>, cwd?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [BINARIES.cli, ...args], { env: cleanEnv(options.env ?? {}), cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  const done = new Promise<CliRun>(resolve => child.once('close', code => {
    process.off('exit', killOnExit)
    resolve({ code, stdout, stderr })
  }))
  return { child, stderr: () => stderr, done }
}

export async function dria (args: string[], options: { env?: Record<string, string>, cwd?: string, timeoutMs?: number } = {}): Promise<CliRun> {
  const run = spawnCli(args, options)
  const timer = setTimeout(() => run.child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  try {
    return await run.done
  } finally {
    clearTimeout(timer)
  }
}

export async function writeJsonl (path: string, lines: unknown[]): Promise<void> {
  await writeFile(path, lines.map(line => JSON.stringify(line)).join('\n') + '\n')
}

export async function readJsonl<T = any> (path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8')
  return text.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as T)
}

/** Lines of a file so far (0 while it does not exist). */
export async function countLines (path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter(line => line !== '').length
  } catch {
    return 0
  }
}

export async function waitUntil (condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

export function prompts (count: number, prefix = 'p'): Array<{ id: string, prompt: string }> {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, prompt: `Once upon a time, in story ${i},` }))
}

export interface CliNetwork {
  coordinator: CoordinatorProcess
  nodes: NodeProcess[]
  dir: string
  env: Record<string, string>
  openai: OpenAI
  /** Kills the coordinator and starts it again on the same ports and data dir. */
  restartCoordinator(options?: { downMs?: number }): Promise<void>
  stop(): Promise<void>
}

/** A node: the models it serves, and extra `dria-node start` flags (e.g. `--engine ollama`). */
export interface NodeSpec { models: string[], args?: string[] }

/**
 * A coordinator (fixed HTTP and p2p ports, so it can be restarted) and one node per entry of
 * `nodes` (llama.cpp over the shared models unless its args say otherwise). One node per
 * model: results are accepted unverified.
 */
export async function startCliNetwork (options: { apiKey: string, nodes: Array<string[] | NodeSpec>, slots?: number, coordinatorArgs?: string[], adminToken?: string }): Promise<CliNetwork> {
  const specs = options.nodes.map(node => Array.isArray(node) ? { models: node } : node)
  const dir = await tempDir('dria-cli-e2e-')
  const processes: Array<CoordinatorProcess | NodeProcess> = []
  const [port, p2pPort] = [await freePort(), await freePort()]
  const args = ['--accept-unverified', '--port', String(port), '--p2p-port', String(p2pPort), ...(options.coordinatorArgs ?? [])]
  const env = options.adminToken === undefined ? undefined : { DRIA_ADMIN_TOKEN: options.adminToken }
  const startCoordinator = async (): Promise<CoordinatorProcess> => {
    const started = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [options.apiKey], args, env })
    processes.push(started)
    return started
  }
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map(async p => await p.stop()))
    await dir.remove()
  }
  try {
    const coordinator = await startCoordinator()
    const nodes = await Promise.all(specs.map(async ({ models, args = [] }, i) => await startNodeProcess({
      dataDir: join(dir.path, `node-${i}`),
      bootstrap: coordinator.multiaddrs,
      args: ['--models-dir', MODELS_DIR, '--models', models.join(','), '--slots', String(options.slots ?? 4), ...args]
    })))
    processes.push(...nodes)
    const network: CliNetwork = {
      coordinator,
      nodes,
      dir: dir.path,
      env: { DRIA_URL: coordinator.url, DRIA_API_KEY: options.apiKey },
      openai: new OpenAI({ baseURL: `${coordinator.url}/v1`, apiKey: options.apiKey, maxRetries: 0 }),
      async restartCoordinator ({ downMs = 0 } = {}) {
        await network.coordinator.kill()
        await sleep(downMs)
        network.coordinator = await startCoordinator()
      },
      stop
    }
    await waitForModels(network, specs.flatMap(spec => spec.models))
    return network
  } catch (err) {
    await stop()
    throw err
  }
}

/** Waits until every model in `models` is served by as many nodes as list it. */
export async function waitForModels (network: CliNetwork, models: string[]): Promise<void> {
  const wanted = new Map<string, number>()
  for (const model of models) wanted.set(model, (wanted.get(model) ?? 0) + 1)
  await waitUntil(async () => {
    const listed = (await network.openai.models.list().catch(() => ({ data: [] }))).data as unknown as Array<{ id: string, nodes: number }>
    return [...wanted].every(([model, count]) => listed.some(m => m.id === model && m.nodes >= count))
  }, `models ${[...wanted.keys()].join(', ')} to be served`)
}
