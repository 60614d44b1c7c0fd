import { homedir } from 'node:os'
import { join } from 'node:path'

export const DEFAULT_DATA_DIR = join(homedir(), '.dria', 'coordinator')
export const DEFAULT_HTTP_HOST = '127.0.0.1'
export const DEFAULT_HTTP_PORT = 8080

/** How often the network view looks for providers of wanted models in the DHT. */
export const DEFAULT_NETWORK_REFRESH_MS = 5_000
/** First wait before a peer whose session failed or ended is tried again; doubles up to the max. */
export const DEFAULT_REDIAL_BACKOFF_MS = 1_000
export const MAX_REDIAL_BACKOFF_MS = 60_000
/** A model still counts as served this long after its last node left: batches for it wait instead of failing. */
export const DEFAULT_MODEL_GRACE_MS = 10 * 60_000
/** Sessions being opened at once (dials to dead providers must not hold up live ones). */
export const SESSION_OPEN_CONCURRENCY = 16

/** Pings keep a session alive and tell a frozen node (no pong) from a slow one. */
export const DEFAULT_PING_INTERVAL_MS = 2_000
export const DEFAULT_PING_TIMEOUT_MS = 6_000
/** ...and only once this many pings we sent went unanswered. */
export const PING_MISSES = 3
/** A task the node has not acknowledged within this long is taken back. */
export const DEFAULT_ACK_TIMEOUT_MS = 5_000
export const DEFAULT_SESSION_SWEEP_MS = 250
/** Tasks in a row a node lets go unanswered (no ack, past the deadline) before its session ends. */
export const MAX_SILENT_FAILURES = 3

/** Verdicts (as a verifier) overruled by the majority after which a node is quarantined. */
export const DEFAULT_QUARANTINE_STRIKES = 3
/**
 * Share of a trusted node's results that are checked. Scoring costs ~0.5x the generation of a
 * line here, so 0.1 keeps verification near 5% of generation compute once nodes are trusted.
 */
export const DEFAULT_AUDIT_RATE = 0.1
/** Checked results a new identity must pass (all of its results are checked until then). */
export const DEFAULT_TRUST_AFTER = 50
/** Tasks a node not yet trusted may hold at once, whatever it advertises. */
export const UNTRUSTED_MAX_WINDOW = 4
/** Weight of a verifier's verdict (and of its chance to be picked) by trust level. */
export const VERIFIER_WEIGHTS = { allowlisted: 100, trusted: 10, new: 1, quarantined: 0 } as const
/** A result passes (and asking stops) once passes outweigh failures by this much; failing needs the same lead. */
export const VERDICT_MARGIN = 2
/** Most verifiers asked about one result before it counts as inconclusive (and is redone). */
export const MAX_VERIFIERS_PER_CHECK = 5
/**
 * Checks of one line that may end without a majority before the line fails: verifiers split
 * evenly (colluders as numerous as the honest nodes, none trusted) cannot be told apart, and
 * redoing the line forever would only burn the network's time.
 */
export const MAX_SPLIT_CHECKS = 5
/** How often each node is told its trust level and the work waiting for it. */
export const NODE_REPORT_INTERVAL_MS = 10_000
/** Trust records are written at most this often (and at once on a quarantine). */
export const TRUST_FLUSH_MS = 1_000
/** On a shared store, how often other coordinators' quarantines are read back. */
export const TRUST_SYNC_MS = 2_000

/** Upper bound of any task's deadline; the node gets a slightly shorter one. */
export const DEFAULT_TASK_TIMEOUT_MS = 5 * 60_000
/** Deadline = base + factor x tokens x measured ms per token x work queued ahead on the node. */
export const DEADLINE_BASE_MS = 3_000
/** The base while no node serving the model has answered yet (models may still be loading). */
export const UNKNOWN_SPEED_BASE_MS = 10_000
export const DEADLINE_FACTOR = 4
/** A verifier gets max(this, factor x the model's typical task time) to answer a check. */
export const CHECK_MIN_DEADLINE_MS = 1_000
export const CHECK_DEADLINE_FACTOR = 4
/** Assumed speed before any node serving the model has answered (deliberately slow: 20 tokens/s). */
export const DEFAULT_MS_PER_TOKEN = 50
/** Attempts of one line (all causes, backups included) after which it fails. */
export const DEFAULT_MAX_ATTEMPTS = 30
/** Pending tasks loaded from LevelDB per (batch, model) queue refill. */
export const DEFAULT_QUEUE_WINDOW = 512
/** Share of dispatches real-time requests get first while batch work waits too. */
export const DEFAULT_REALTIME_SHARE = 0.5
/** A straggler gets a backup on an idle node after max(this, BACKUP_FACTOR x the model's typical task time). */
export const DEFAULT_BACKUP_AFTER_MS = 500
export const BACKUP_FACTOR = 3
/** How often results waiting for a verifier are looked at again (and idle nodes offered work). */
export const HELD_RECHECK_MS = 1_000

export const DEFAULT_MAX_LINES_PER_FILE = 100_000
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 ** 3
export const COMPLETION_WINDOW = '24h'
export const COMPLETION_WINDOW_SECONDS = 24 * 3600

/** The coordinator's state backend (`--store`): embedded LevelDB. */
export const DEFAULT_STORE = 'level'
/** PostgreSQL connections one coordinator holds at most. */
export const DEFAULT_PG_POOL_SIZE = 10
/**
 * A task a coordinator claimed on a shared store is its own this long unless renewed: when it
 * dies, the others take its tasks over after at most this (plus one sync interval).
 */
export const DEFAULT_LEASE_MS = 5_000
/** How often a coordinator on a shared store renews its leases and syncs batches with the others. */
export const DEFAULT_SHARED_SYNC_MS = 1_000
/** How often a coordinator renews its task leases: well within DEFAULT_LEASE_MS. */
export const DEFAULT_LEASE_RENEW_MS = 1_000
