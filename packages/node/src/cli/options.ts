import { InvalidArgumentError, Option } from 'commander'
import { LOG_FORMATS, option, parseChoice, parseInteger, parseList, parseNumber } from '@dria/protocol'
import {
  DEFAULT_BENCHMARK_ROUNDS, DEFAULT_CONNECT_WARN_MS, DEFAULT_DATA_DIR, DEFAULT_GPU, DEFAULT_MIN_TPS, DEFAULT_OLLAMA_HOST,
  DEFAULT_SLOTS, DEFAULT_STATUS_PORT
} from '../constants.js'

function parseBoolean (value: string): boolean {
  if (['true', '1', 'yes', 'on'].includes(value)) return true
  if (['false', '0', 'no', 'off', ''].includes(value)) return false
  throw new InvalidArgumentError('expected true or false')
}

/** `--flag` alone means true; `--flag false` and `DRIA_X=false` mean false (commander would take any set variable as true). */
function flag (flags: string, description: string, env: string): Option {
  return new Option(`${flags} [bool]`, description).env(env).default(false).preset('true').argParser(parseBoolean)
}

export const configOption = (description: string): Option =>
  option('--config <file>', `${description} (default: <data-dir>/config.json)`, 'DRIA_CONFIG')

export const dataDirOption = (): Option =>
  option('--data-dir <dir>', 'identity, generated models, config and state', 'DRIA_DATA_DIR', DEFAULT_DATA_DIR)

/** Where the node joins the network and how peers reach it. */
export const networkOptions = (): Option[] => [
  option('--coordinator-url <url>', 'coordinator HTTP API to join through: its P2P addresses are read from GET /api/v0/network/info', 'DRIA_COORDINATOR_URL'),
  option('--bootstrap <multiaddr>', 'peer to join through, /ip4/<ip>/tcp/<port>/p2p/<id> (repeatable, or comma-separated)', 'DRIA_BOOTSTRAP', []).argParser(parseList),
  option('--p2p-port <port>', 'libp2p TCP port (0 = random)', 'DRIA_P2P_PORT', 0).argParser(parseInteger(0, 65535)),
  option('--host <address>', 'interface to listen on', 'DRIA_HOST', '127.0.0.1'),
  option('--announce <multiaddr>', 'address peers should dial instead of the listen address, e.g. behind NAT (repeatable, or comma-separated)', 'DRIA_ANNOUNCE', []).argParser(parseList),
  option('--status-port <port>', 'loopback port of the status endpoint (0 = random)', 'DRIA_STATUS_PORT', DEFAULT_STATUS_PORT).argParser(parseInteger(0, 65535))
]

/** What the node serves and with what. */
export const engineOptions = (): Option[] => [
  option('--engine <engine>', 'auto | ollama | llamacpp (auto = Ollama when it has the models, else GGUF files)', 'DRIA_ENGINE', 'auto').argParser(parseChoice(['auto', 'ollama', 'llamacpp'])),
  option('--ollama-host <url>', 'Ollama server', 'OLLAMA_HOST', DEFAULT_OLLAMA_HOST),
  option('--models <names>', 'models to serve, comma-separated (default: all found)', 'DRIA_MODELS').argParser(parseList),
  option('--models-dir <dir>', 'GGUF directory for llama.cpp (default: <data-dir>/models)', 'DRIA_MODELS_DIR'),
  flag('--pull', 'let Ollama pull the --models it does not have yet, with progress', 'DRIA_PULL'),
  flag('--demo-model', 'with no other model found, serve the generated dria-tiny model (demos and tests: it writes noise)', 'DRIA_DEMO_MODEL'),
  option('--gpu <gpu>', 'llama.cpp GPU: auto | cuda | vulkan | off (cuda/vulkan need their binaries: see README)', 'DRIA_GPU', DEFAULT_GPU).argParser(parseChoice(['auto', 'cuda', 'vulkan', 'off'])),
  option('--slots <n>', 'tasks run at once', 'DRIA_SLOTS', DEFAULT_SLOTS).argParser(parseInteger(1, 1024)),
  option('--queue-depth <n>', 'tasks accepted ahead of the slots; more are refused (default: as many as --slots)', 'DRIA_QUEUE_DEPTH').argParser(parseInteger(0, 4096)),
  option('--threads <n>', 'llama.cpp CPU threads (default: half the cores, 1 to 8)', 'DRIA_THREADS').argParser(parseInteger(1, 1024)),
  option('--min-tps <n>', 'do not serve models slower than this many tokens/s', 'DRIA_MIN_TPS', DEFAULT_MIN_TPS).argParser(parseNumber(0))
]

export const logOptions = (): Option[] => [
  option('--log-level <level>', 'pino log level', 'DRIA_LOG_LEVEL', 'info'),
  option('--log-format <format>', 'auto (pretty on a terminal, JSON otherwise) | pretty | json', 'DRIA_LOG_FORMAT', 'auto').argParser(parseChoice(LOG_FORMATS))
]

export const metricsPortOption = (): Option =>
  option('--metrics-port <port>', 'serve Prometheus metrics at http://<host>:<port>/metrics (default: off)', 'DRIA_METRICS_PORT').argParser(parseInteger(0, 65535))

export const connectWarnOption = (): Option =>
  option('--connect-warn-ms <ms>', 'warn when no peer is connected for this long, and again at this interval', 'DRIA_CONNECT_WARN_MS', DEFAULT_CONNECT_WARN_MS).argParser(parseInteger(1))

export const roundsOption = (): Option =>
  option('--rounds <n>', 'measurements per model (the median is reported)', 'DRIA_BENCHMARK_ROUNDS', DEFAULT_BENCHMARK_ROUNDS).argParser(parseInteger(1, 100))

export const jsonOption = (): Option => flag('--json', 'print JSON instead of text', 'DRIA_JSON')
