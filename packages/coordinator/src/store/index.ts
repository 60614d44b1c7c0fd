import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Store } from './interfaces.js'
import { openLevelStore } from './level/index.js'

export * from './types.js'
export * from './interfaces.js'
export { transitions } from './transitions.js'

export interface OpenStoreInit {
  /** Directory of file bodies (several coordinators may share one). Default `<dataDir>/files`. */
  filesDir?: string
}

/** Opens (or creates) the coordinator's state under `dataDir`: LevelDB metadata + file bodies on disk. */
export async function openStore (dataDir: string, init: OpenStoreInit = {}): Promise<Store> {
  const filesDir = init.filesDir ?? join(dataDir, 'files')
  await mkdir(filesDir, { recursive: true })
  return await openLevelStore(dataDir, filesDir)
}
