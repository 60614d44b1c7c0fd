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
/** How long start-up waits for Ollama's `/api/version` before calling it unreachable. */
export const OLLAMA_PROBE_TIMEOUT_MS = 1_000
/** `--gpu`: llama.cpp uses a GPU when its GPU binaries are installed and find a device. */
export const DEFAULT_GPU = 'auto'
/** Pull progress is logged at every status change and every this many percent. */
export const PULL_PROGRESS_STEP_PERCENT = 10
/** Loopback port of the status endpoint that `dria-node status` and `models` read. */
export const DEFAULT_STATUS_PORT = 4100
export const STATUS_HOST = '127.0.0.1'
/** A node with no peer this long warns (and keeps warning at this interval) until one connects. */
export const DEFAULT_CONNECT_WARN_MS = 30_000
/** `start` reads `<data-dir>/config.json` (what `setup` writes) when no `--config` is given. */
export const CONFIG_FILE = 'config.json'
/** Rounds `benchmark` and `setup` measure each model (the median is reported). */
export const DEFAULT_BENCHMARK_ROUNDS = 3
/** While no peer is connected, the bootstrap peers are dialled again this often. */
export const BOOTSTRAP_REDIAL_MS = 5_000
/** `--coordinator-url`: how long start-up keeps asking a coordinator that does not answer, and how often. */
export const COORDINATOR_URL_WAIT_MS = 60_000
export const COORDINATOR_URL_RETRY_MS = 2_000
