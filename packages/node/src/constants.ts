import { homedir } from 'node:os'
import { join } from 'node:path'

export const DEFAULT_DATA_DIR = join(homedir(), '.dria', 'node')
export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434'
export const DEFAULT_SLOTS = 4
/** Models slower than this (tokens/s, one sequence) are not advertised. */
export const DEFAULT_MIN_TPS = 0
/** Capacity records are re-signed and re-published this often (free slots change constantly). */
export const DEFAULT_ADVERTISE_INTERVAL_MS = 10_000
/** Provider records live 48 h in the DHT; re-providing hourly keeps them fresh. */
export const DEFAULT_REPROVIDE_INTERVAL_MS = 60 * 60_000
/** Upper bound for one task when the request does not say. */
export const DEFAULT_TASK_TIMEOUT_MS = 10 * 60_000
/** How long SIGTERM waits for in-flight tasks before aborting them (they are handed back as retryable). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000
export const IDENTITY_FILE = 'peer-key'
/** The metrics port listens where libp2p does unless --host says otherwise. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'
