import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** Repository root (this file is packages/testkit/{src,dist}/processes/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))

/** Small real GGUF models for tests and benchmarks, in ../shared beside the repository. */
export const SHARED_MODELS_DIR = `${REPO_ROOT}../shared/models`

export const BINARIES = {
  node: `${REPO_ROOT}packages/node/bin/dria-node.js`,
  coordinator: `${REPO_ROOT}packages/coordinator/bin/dria-coordinator.js`,
  cli: `${REPO_ROOT}packages/cli/bin/dria.js`,
  /** The node daemon around a synthetic or cheating engine (tests and benchmarks). */
  'test-node': `${REPO_ROOT}packages/testkit/bin/dria-test-node.js`
} as const

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

export interface DriaProcess {
  readonly child: ChildProcess
  /** Every pino line the process printed so far. */
  readonly lines: LogLine[]
  /** Resolves with the first log line matching `msg` (and `where`, when given). */
  waitFor(msg: string, options?: { timeoutMs?: number, where?: (line: LogLine) => boolean }): Promise<LogLine>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>
  /** SIGKILL at once, like a crash. */
  kill(): Promise<void>
}

interface Waiter {
  msg: string
  where?: (line: LogLine) => boolean
  resolve: (line: LogLine) => void
}

/**
 * Starts one of the project's binaries as a real process that logs pino JSON on stdout,
 * and lets a caller wait for its log lines. Killed when the parent exits.
 */
export function spawnDria (binary: keyof typeof BINARIES, args: string[], options: { env?: Record<string, string>, echo?: boolean, /** Another build of the binary (e.g. a deployed bundle). */ binary?: string, /** Node.js flags, e.g. `--cpu-prof` (benchmarks). */ execArgv?: string[] } = {}): DriaProcess {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), options.binary ?? BINARIES[binary], ...args], {
    env: { ...process.env, DRIA_LOG_LEVEL: 'info', DRIA_LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: LogLine[] = []
  const waiters = new Set<Waiter>()
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  void exited.then(() => process.off('exit', killOnExit))

  createInterface({ input: child.stdout! }).on('line', text => {
    if (options.echo === true) process.stdout.write(`${text}\n`)
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      return
    }
    lines.push(line)
    for (const waiter of waiters) {
      if (line.msg === waiter.msg && (waiter.where === undefined || waiter.where(line))) {
        waiters.delete(waiter)
        waiter.resolve(line)
      }
    }
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
    if (options.echo === true) process.stderr.write(chunk)
  })

  return {
    child,
    lines,
    async waitFor (msg, { timeoutMs = 30_000, where } = {}) {
      const seen = lines.find(line => line.msg === msg && (where === undefined || where(line)))
      if (seen !== undefined) return seen
      return await new Promise<LogLine>((resolve, reject) => {
        const waiter: Waiter = { msg, where, resolve: (line) => { clearTimeout(timer); resolve(line) } }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`${binary} did not log "${msg}" within ${timeoutMs} ms; stderr: ${stderr}`))
        }, timeoutMs)
        waiters.add(waiter)
        void exited.then(code => {
          if (!waiters.has(waiter)) return
          waiters.delete(waiter)
          clearTimeout(timer)
          reject(new Error(`${binary} exited (${code}) before logging "${msg}"; stderr: ${stderr}`))
        })
      })
    },
    async stop (graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
    async kill () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    }
  }
}
