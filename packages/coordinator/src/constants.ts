import { homedir } from 'node:os'
import { join } from 'node:path'

export const DEFAULT_DATA_DIR = join(homedir(), '.dria', 'coordinator')
export const DEFAULT_HTTP_HOST = '127.0.0.1'
export const DEFAULT_HTTP_PORT = 8080

/** How often the network view re-reads providers and capacity records. */
export const DEFAULT_NETWORK_REFRESH_MS = 5_000
/** A capacity record older than this is a dead node's (nodes republish every 10 s). */
export const DEFAULT_RECORD_STALE_MS = 45_000
/** How long a peer that failed or refused a task is left alone. */
export const DEFAULT_PEER_BACKOFF_MS = 2_000

/** Proven wrong results after which a node is quarantined. */
export const DEFAULT_QUARANTINE_STRIKES = 3
/** Share of deterministic (greedy or seeded) results re-executed on other nodes. */
export const DEFAULT_AUDIT_RATE = 0.05

/** Upper bound on one task round trip; the node gets a slightly shorter deadline. */
export const DEFAULT_TASK_TIMEOUT_MS = 5 * 60_000
/** A line fails after this many failed attempts (rejections at capacity do not count). */
export const DEFAULT_MAX_TASK_FAILURES = 5
/** Pending tasks loaded from LevelDB per (batch, model) queue refill. */
export const DEFAULT_QUEUE_WINDOW = 512

export const DEFAULT_MAX_LINES_PER_FILE = 100_000
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 ** 3
export const COMPLETION_WINDOW = '24h'
export const COMPLETION_WINDOW_SECONDS = 24 * 3600
