import { execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/** Where Debian's `postgresql` package puts its server binaries. */
const DEBIAN_ROOT = '/usr/lib/postgresql'

/** The directory holding `initdb` and `pg_ctl`, or undefined when PostgreSQL is not installed. */
export function postgresBinDir (): string | undefined {
  // DRIA_TEST_PG_BIN: another installation (a directory with initdb and pg_ctl).
  const override = process.env.DRIA_TEST_PG_BIN
  if (override !== undefined) return existsSync(join(override, 'pg_ctl')) ? override : undefined
  if (!existsSync(DEBIAN_ROOT)) return undefined
  const versions = readdirSync(DEBIAN_ROOT).filter(v => existsSync(join(DEBIAN_ROOT, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a))
  return versions.length === 0 ? undefined : join(DEBIAN_ROOT, versions[0], 'bin')
}

/** Why PostgreSQL tests skip on this machine, or undefined when they can run. */
export function postgresSkipReason (): string | undefined {
  return postgresBinDir() === undefined ? `PostgreSQL server binaries not found (${process.env.DRIA_TEST_PG_BIN ?? `${DEBIAN_ROOT}/*/bin`}; apt-get install postgresql): PostgreSQL tests skipped` : undefined
}

export interface TestPostgres {
  /** `postgres://…` of the server's `postgres` database. */
  readonly url: string
  readonly port: number
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>
  /** Stops the server at once and removes its directory. */
  stop(): Promise<void>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => { resolve(port) })
    })
  })
}

/** PostgreSQL refuses to run as root: as root, run it as `postgres` (or `nobody`). */
function serverUser (): { name: string, uid: number, gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim())
      return { name, uid, gid }
    } catch {}
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists')
}

/**
 * Starts a throwaway PostgreSQL server in a temp directory, on 127.0.0.1 and a free port,
 * without fsync (tests only). A watchdog stops it and removes the directory when this process
 * ends, however it ends (a failed test, a SIGKILL), so no server outlives its tests.
 */
export async function startPostgres (): Promise<TestPostgres> {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error(postgresSkipReason())
  const user = serverUser()
  const dir = mkdtempSync(join(tmpdir(), 'dria-pg-'))
  if (user !== undefined) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const asServer = (command: string, args: string[]): void => {
    const [file, argv] = user === undefined ? [join(bin, command), args] : ['runuser', ['-u', user.name, '--', join(bin, command), ...args]]
    execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir })
  }
  asServer('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
  const port = await freePort()
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`
  asServer('pg_ctl', ['start', '-w', '-s', '-D', data, '-l', join(dir, 'server.log'), '-o', options])
  const stopCommand = user === undefined
    ? `'${join(bin, 'pg_ctl')}' stop -s -m immediate -D '${data}'`
    : `runuser -u ${user.name} -- '${join(bin, 'pg_ctl')}' stop -s -m immediate -D '${data}'`
  const cleanup = `${stopCommand} >/dev/null 2>&1; rm -rf '${dir}'`
  // Detached, so it outlives a killed test process; it polls for this process's exit.
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${cleanup}`], { detached: true, stdio: 'ignore' })
  watchdog.unref()
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let databases = 0
  let stopped = false
  return {
    url,
    port,
    async createDatabase () {
      const name = `test_${process.pid}_${++databases}`
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${name}`)
      } finally {
        await client.end()
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`
    },
    async stop () {
      if (stopped) return
      stopped = true
      watchdog.kill()
      await new Promise<void>(resolve => {
        spawn('sh', ['-c', cleanup], { stdio: 'ignore' }).once('exit', () => { resolve() })
      })
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
