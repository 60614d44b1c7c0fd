import { createRequire } from 'node:module'
import { Command } from 'commander'
import { createLogger, option, parseChoice, parseInteger, parseList, parseNumber, runService } from '@dria/protocol'
import { DEFAULT_DATA_DIR, DEFAULT_MIN_TPS, DEFAULT_OLLAMA_HOST, DEFAULT_SLOTS } from './constants.js'
import { startNodeDaemon } from './daemon.js'
import type { EngineChoice } from './engine/index.js'

interface StartOptions {
  bootstrap: string[]
  p2pPort: number
  host: string
  dataDir: string
  engine: EngineChoice
  ollamaHost: string
  models?: string[]
  modelsDir?: string
  slots: number
  queueDepth?: number
  threads?: number
  minTps: number
  metricsPort?: number
  logLevel: string
}

export async function runNodeCli (argv: string[]): Promise<void> {
  const program = new Command('dria-node').description('Dria network node: serves local models to the network')
    .version((createRequire(import.meta.url)('../package.json') as { version: string }).version, '-V, --version')
  program.command('start')
    .description('start the node daemon')
    .addOption(option('--bootstrap <multiaddr>', 'peer to join through (repeatable, or comma-separated)', 'DRIA_BOOTSTRAP', []).argParser(parseList))
    .addOption(option('--p2p-port <port>', 'libp2p TCP port (0 = random)', 'DRIA_P2P_PORT', 0).argParser(parseInteger(0, 65535)))
    .addOption(option('--host <address>', 'interface to listen on', 'DRIA_HOST', '127.0.0.1'))
    .addOption(option('--data-dir <dir>', 'identity, generated models and state', 'DRIA_DATA_DIR', DEFAULT_DATA_DIR))
    .addOption(option('--engine <engine>', 'auto | ollama | llamacpp (auto = Ollama if reachable)', 'DRIA_ENGINE', 'auto').argParser(parseChoice(['auto', 'ollama', 'llamacpp'])))
    .addOption(option('--ollama-host <url>', 'Ollama server', 'OLLAMA_HOST', DEFAULT_OLLAMA_HOST))
    .addOption(option('--models <names>', 'models to serve, comma-separated (default: all available)', 'DRIA_MODELS').argParser(parseList))
    .addOption(option('--models-dir <dir>', 'GGUF directory for llama.cpp (default: <data-dir>/models)', 'DRIA_MODELS_DIR'))
    .addOption(option('--slots <n>', 'tasks run at once', 'DRIA_SLOTS', DEFAULT_SLOTS).argParser(parseInteger(1, 1024)))
    .addOption(option('--queue-depth <n>', 'tasks accepted ahead of the slots; more are refused (default: as many as --slots)', 'DRIA_QUEUE_DEPTH').argParser(parseInteger(0, 4096)))
    .addOption(option('--threads <n>', 'llama.cpp CPU threads (default: half the cores, 1 to 8)', 'DRIA_THREADS').argParser(parseInteger(1, 1024)))
    .addOption(option('--min-tps <n>', 'drop models slower than this many tokens/s', 'DRIA_MIN_TPS', DEFAULT_MIN_TPS).argParser(parseNumber(0)))
    .addOption(option('--metrics-port <port>', 'serve Prometheus metrics at http://<host>:<port>/metrics (default: off)', 'DRIA_METRICS_PORT').argParser(parseInteger(0, 65535)))
    .addOption(option('--log-level <level>', 'pino log level', 'DRIA_LOG_LEVEL', 'info'))
    .action(async (opts: StartOptions) => {
      const logger = createLogger('dria-node', opts.logLevel)
      await runService(logger, 'node failed to start', async () => await startNodeDaemon({ logger }, {
        dataDir: opts.dataDir,
        bootstrap: opts.bootstrap,
        p2pPort: opts.p2pPort,
        listenHost: opts.host,
        engine: opts.engine,
        ollamaHost: opts.ollamaHost,
        models: opts.models,
        modelsDir: opts.modelsDir,
        slots: opts.slots,
        queueDepth: opts.queueDepth,
        threads: opts.threads,
        minTps: opts.minTps,
        metricsPort: opts.metricsPort
      }))
    })
  await program.parseAsync(argv)
}
