import { NodeErrorCode, nodeError } from '../errors.js'
import type { NodeStatusSnapshot } from './node-status.js'
import type { ModelEntry } from '../engine/index.js'

export interface ModelsAnswer {
  engine: string
  models: ModelEntry[]
  tried: string
}

const TIMEOUT_MS = 5_000

async function get<T> (base: string, path: string): Promise<T> {
  let response: Response
  try {
    response = await fetch(base + path, { signal: AbortSignal.timeout(TIMEOUT_MS) })
  } catch (err) {
    throw nodeError(NodeErrorCode.NODE_NOT_RUNNING, `no dria-node answers at ${base}: start one with \`dria-node start\`, or pass the running node's --status-port`, err)
  }
  if (!response.ok) throw nodeError(NodeErrorCode.NODE_NOT_RUNNING, `${base}${path} answered ${response.status}: is that a dria-node status port?`)
  return await response.json() as T
}

/** What the running node at `base` (its status endpoint) says about itself. */
export async function fetchStatus (base: string): Promise<NodeStatusSnapshot> {
  return await get<NodeStatusSnapshot>(base, '/status')
}

export async function fetchModels (base: string): Promise<ModelsAnswer> {
  return await get<ModelsAnswer>(base, '/models')
}
