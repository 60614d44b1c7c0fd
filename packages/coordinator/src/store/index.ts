import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DriaError } from '@dria/protocol'
import { randomUUID } from 'node:crypto'
import { DEFAULT_LEASE_MS, DEFAULT_PG_POOL_SIZE } from '../constants.js'
import type { Store } from './interfaces.js'
import { openLevelStore } from './level/index.js'
import { openPostgresStore } from './postgres/index.js'

export * from './types.js'
export * from './interfaces.js'
export { transitions } from './transitions.js'
export { startLeaseRenewal } from './leases.js'

export interface OpenStoreInit {
  /** `level` (embedded LevelDB under the data directory) or a `postgres://…` URL. Default `level`. */
  url?: string
  /** Directory of file bodies (several coordinators may share one). Default `<dataDir>/files`. */
  filesDir?: string
  /** PostgreSQL connections held at most. Default DEFAULT_PG_POOL_SIZE. */
  poolSize?: number
  /** This coordinator's id on a shared store (owner of its task leases). Default: a random UUID. */
  instanceId?: string
  /** How long a task lease lasts unless renewed (shared store). Default DEFAULT_LEASE_MS. */
  leaseMs?: number
}

/** True for the store URLs `openStore` takes. */
export function isStoreUrl (url: string): boolean {
  return url === 'level' || /^postgres(ql)?:\/\//.test(url)
}

/** Opens (or creates) the coordinator's state: metadata in LevelDB or PostgreSQL, file bodies on disk. */
export async function openStore (dataDir: string, init: OpenStoreInit = {}): Promise<Store> {
  const url = init.url ?? 'level'
  if (!isStoreUrl(url)) throw new DriaError('STORE_URL_INVALID', 'store must be level or a postgres:// URL')
  const filesDir = init.filesDir ?? join(dataDir, 'files')
  await mkdir(filesDir, { recursive: true })
  if (url === 'level') return await openLevelStore(dataDir, filesDir)
  return await openPostgresStore({ url, filesDir, poolSize: init.poolSize ?? DEFAULT_PG_POOL_SIZE, instanceId: init.instanceId ?? randomUUID(), leaseMs: init.leaseMs ?? DEFAULT_LEASE_MS })
}
