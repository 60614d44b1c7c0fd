import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnDria } from './spawn.js'
import type { DriaProcess } from './spawn.js'
import type { TestNodeConfig } from '../bin/test-node.js'

export interface CoordinatorProcess extends DriaProcess {
  url: string
  multiaddrs: string[]
  dataDir: string
}

export interface NodeProcess extends DriaProcess {
  peerId: string
  /** Base URL of its loopback status endpoint (what `dria-node status --status-port` reads). */
  statusUrl: string
  /** Listen addresses, each ending in /p2p/<peerId>. */
  multiaddrs: string[]
  dataDir: string
}

/** Starts `dria-coordinator start` on random ports and waits until it serves HTTP. */
export async function startCoordinatorProcess (options: { dataDir: string, apiKeys: string[], args?: string[], env?: Record<string, string>, echo?: boolean, execArgv?: string[] }): Promise<CoordinatorProcess> {
  const proc = spawnDria('coordinator', [
    'start', '--port', '0', '--p2p-port', '0', '--data-dir', options.dataDir, ...(options.args ?? [])
  ], { env: { DRIA_API_KEYS: options.apiKeys.join(','), ...options.env }, echo: options.echo, execArgv: options.execArgv })
  const ready = await proc.waitFor('coordinator ready', { timeoutMs: 60_000 })
  return Object.assign(proc, { url: ready.url as string, multiaddrs: ready.multiaddrs as string[], dataDir: options.dataDir })
}

/** Starts `dria-node start` bootstrapped to `bootstrap` and waits until it has advertised. */
export async function startNodeProcess (options: { dataDir: string, bootstrap: string[], args?: string[], env?: Record<string, string>, echo?: boolean }): Promise<NodeProcess> {
  const proc = spawnDria('node', [
    'start', '--p2p-port', '0', '--status-port', '0', '--data-dir', options.dataDir, '--engine', 'llamacpp', '--threads', '1',
    ...options.bootstrap.flatMap(b => ['--bootstrap', b]), ...(options.args ?? [])
  ], { env: options.env, echo: options.echo })
  const ready = await proc.waitFor('node ready', { timeoutMs: 60_000 })
  return Object.assign(proc, { peerId: ready.peerId as string, statusUrl: ready.statusUrl as string, multiaddrs: ready.multiaddrs as string[], dataDir: options.dataDir })
}

/** Starts a test node (synthetic or cheating engine, real daemon) and waits until it has advertised. */
export async function startTestNode (config: TestNodeConfig, options: { env?: Record<string, string>, echo?: boolean, execArgv?: string[] } = {}): Promise<NodeProcess> {
  const proc = spawnDria('test-node', [JSON.stringify(config)], options)
  const ready = await proc.waitFor('node ready', { timeoutMs: 60_000 })
  return Object.assign(proc, { peerId: ready.peerId as string, statusUrl: ready.statusUrl as string, multiaddrs: ready.multiaddrs as string[], dataDir: config.dataDir })
}

/** A temp directory removed by the returned cleanup. */
export async function tempDir (prefix = 'dria-'): Promise<{ path: string, remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for processes that must reuse a port). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}
