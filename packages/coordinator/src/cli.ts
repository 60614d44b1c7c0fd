import { createRequire } from 'node:module'
import { Command, InvalidArgumentError } from 'commander'
import { createLogger, option, parseInteger, parseList, parseNumber, runService } from '@dria/protocol'
import { readFileSync } from 'node:fs'
import {
  DEFAULT_AUDIT_RATE, DEFAULT_DATA_DIR, DEFAULT_QUARANTINE_STRIKES, DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_LINES_PER_FILE, DEFAULT_REALTIME_SHARE, DEFAULT_STORE, DEFAULT_TRUST_AFTER
} from './constants.js'
import { startCoordinator } from './coordinator.js'
import { parseBlobStoreSpec } from './files/index.js'
import { isStoreUrl } from './store/index.js'
import { MAX_TASKS_PER_FILE, PLAN_NAMES, resolvePlans } from './accounts/index.js'
import type { PlanLimits, PlanName } from './accounts/index.js'

interface StartOptions {
  host: string
  port: number
  p2pPort: number
  p2pHost: string
  dataDir: string
  blobStore?: string
  s3Endpoint?: string
  store: string
  filesDir?: string
  secretFile?: string
  bootstrap: string[]
  apiKeys: string[]
  adminToken?: string
  plans?: string
  maxFileBytes: number
  maxLines: number
  completionWindowSeconds?: number
  publicUrl?: string
  allowHttpWebhooks: boolean
  auditRate: number
  quarantineStrikes: number
  trustAfter: number
  verifier: string[]
  modelDigests?: Record<string, string[]>
  acceptUnverified: boolean
  realtimeShare: number
  logLevel: string
}

function parseUrl (value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw new InvalidArgumentError('expected an http(s) URL')
  return value
}

function parseBlobStore (value: string): string {
  try {
    parseBlobStoreSpec(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  return value
}

function parseStore (value: string): string {
  if (!isStoreUrl(value)) throw new InvalidArgumentError('expected level or a postgres:// URL')
  return value
}

function parseShare (value: string): number {
  const share = parseNumber(0)(value)
  if (share > 1) throw new InvalidArgumentError('expected a number from 0 to 1')
  return share
}

/** `--model-digests`: a JSON object `{"model": ["sha256:…"]}`, inline or in a file. */
function parseModelDigests (value: string): Record<string, string[]> {
  let parsed: unknown
  try {
    parsed = JSON.parse(value.trimStart().startsWith('{') ? value : readFileSync(value, 'utf8'))
  } catch (err) {
    throw new InvalidArgumentError(`expected a JSON object or a JSON file: ${(err as Error).message}`)
  }
  const valid = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) &&
    Object.values(parsed).every(digests => Array.isArray(digests) && digests.length > 0 && digests.every(d => typeof d === 'string' && /^sha256:[0-9a-f]{64}$/.test(d)))
  if (!valid) throw new InvalidArgumentError('expected {"<model>": ["sha256:<64 hex>", ...], ...}')
  return parsed as Record<string, string[]>
}

/** --max-lines and --max-file-bytes set every plan; --plans (JSON) refines single plans. */
function planLimits (opts: StartOptions): Record<PlanName, PlanLimits> {
  const overrides = (opts.plans === undefined ? {} : JSON.parse(opts.plans)) as Record<string, Record<string, number>>
  resolvePlans(overrides) // rejects unknown plans and fields before they are merged below
  return resolvePlans(Object.fromEntries(PLAN_NAMES.map(plan => [plan, { tasksPerFile: opts.maxLines, fileBytes: opts.maxFileBytes, ...overrides[plan] }])))
}

export async function runCoordinatorCli (argv: string[]): Promise<void> {
  const program = new Command('dria-coordinator').description('Dria network coordinator: batch API, scheduling and verification')
    .version((createRequire(import.meta.url)('../package.json') as { version: string }).version, '-V, --version')
  program.command('start')
    .description('start the coordinator')
    .addOption(option('--host <address>', 'HTTP interface', 'DRIA_HOST', DEFAULT_HTTP_HOST))
    .addOption(option('--port <port>', 'HTTP port (0 = random)', 'DRIA_PORT', DEFAULT_HTTP_PORT).argParser(parseInteger(0, 65535)))
    .addOption(option('--p2p-port <port>', 'libp2p TCP port (0 = random)', 'DRIA_P2P_PORT', 0).argParser(parseInteger(0, 65535)))
    .addOption(option('--p2p-host <address>', 'libp2p interface', 'DRIA_P2P_HOST', '127.0.0.1'))
    .addOption(option('--data-dir <dir>', 'LevelDB state and file bodies', 'DRIA_DATA_DIR', DEFAULT_DATA_DIR))
    .addOption(option('--blob-store <dir:path|s3://bucket/prefix>', 'where file bodies live: a directory several coordinators may share, or an S3 bucket (region and credentials from the AWS_* env) (default: dir:<files-dir>)', 'DRIA_BLOB_STORE').argParser(parseBlobStore))
    .addOption(option('--s3-endpoint <url>', 'S3-compatible server for an s3:// blob store, path-style (default: AWS S3)', 'DRIA_S3_ENDPOINT').argParser(parseUrl))
    .addOption(option('--store <level|url>', 'state backend: level (LevelDB in --data-dir) or postgres://user:pass@host/db, shared by several coordinators', 'DRIA_STORE', DEFAULT_STORE).argParser(parseStore))
    .addOption(option('--files-dir <dir>', 'file bodies; coordinators sharing a database share it (default: <data-dir>/files)', 'DRIA_FILES_DIR'))
    .addOption(option('--secret-file <path>', 'server secret (API key hashes, signed URLs); coordinators sharing a database share it (default: <data-dir>/server-secret)', 'DRIA_SECRET_FILE'))
    .addOption(option('--bootstrap <multiaddr>', 'peer to join through (repeatable, or comma-separated)', 'DRIA_BOOTSTRAP', []).argParser(parseList))
    .addOption(option('--api-keys <keys>', 'API keys accepted as Bearer tokens, comma-separated', 'DRIA_API_KEYS', []).argParser(parseList))
    .addOption(option('--admin-token <token>', 'enables the admin API (API keys) for this bearer token', 'DRIA_ADMIN_TOKEN'))
    .addOption(option('--max-file-bytes <n>', 'largest upload, every plan', 'DRIA_MAX_FILE_BYTES', DEFAULT_MAX_FILE_BYTES).argParser(parseInteger(1)))
    .addOption(option('--max-lines <n>', 'most requests per batch file, every plan', 'DRIA_MAX_LINES', DEFAULT_MAX_LINES_PER_FILE).argParser(parseInteger(1, MAX_TASKS_PER_FILE)))
    .addOption(option('--plans <json>', 'per-plan limit overrides, e.g. {"free":{"filesPerDay":5}}', 'DRIA_PLANS'))
    .addOption(option('--audit-rate <share>', 'share of a trusted node\'s results checked by other nodes (0 to 1); a new node\'s are all checked', 'DRIA_AUDIT_RATE', DEFAULT_AUDIT_RATE).argParser(parseShare))
    .addOption(option('--trust-after <n>', 'checks a new node identity must pass before only a sample of its results is checked', 'DRIA_TRUST_AFTER', DEFAULT_TRUST_AFTER).argParser(parseInteger(1)))
    .addOption(option('--verifier <peer-id>', 'a verifier node you run: trusted, never checked, preferred for checks (repeatable)', 'DRIA_VERIFIERS', []).argParser(parseList))
    .addOption(option('--model-digests <json|file>', 'accepted weights per model, {"model": ["sha256:…"]} (default: learned from verifiers and trusted nodes)', 'DRIA_MODEL_DIGESTS').argParser(parseModelDigests))
    .addOption(option('--accept-unverified', 'accept results no other node can check (private networks, single node) instead of holding them', 'DRIA_ACCEPT_UNVERIFIED', false))
    .addOption(option('--quarantine-strikes <n>', 'overruled verdicts (as a verifier) after which a node gets no more work', 'DRIA_QUARANTINE_STRIKES', DEFAULT_QUARANTINE_STRIKES).argParser(parseInteger(1)))
    .addOption(option('--realtime-share <share>', 'share of dispatches real-time requests get first while batch work waits (0 to 1)', 'DRIA_REALTIME_SHARE', DEFAULT_REALTIME_SHARE).argParser(parseShare))
    .addOption(option('--completion-window-seconds <n>', 'expire batches after this long instead of 24 h (testing)', 'DRIA_COMPLETION_WINDOW_SECONDS').argParser(parseInteger(1)))
    .addOption(option('--public-url <url>', 'base URL clients reach the API at, for upload and download links (default: the listen address)', 'DRIA_PUBLIC_URL').argParser(parseUrl))
    .addOption(option('--allow-http-webhooks', 'allow http:// webhook URLs and loopback/private targets (testing only; env: set to 1)', 'DRIA_ALLOW_HTTP_WEBHOOKS', false))
    .addOption(option('--log-level <level>', 'pino log level', 'DRIA_LOG_LEVEL', 'info'))
    .action(async (opts: StartOptions) => {
      const logger = createLogger('dria-coordinator', opts.logLevel)
      if (opts.apiKeys.length === 0) logger.warn('no API keys configured (DRIA_API_KEYS): every API request will be refused')
      await runService(logger, 'coordinator failed to start', async () => await startCoordinator({ logger }, {
        dataDir: opts.dataDir,
        blobStore: opts.blobStore,
        s3Endpoint: opts.s3Endpoint,
        store: opts.store,
        filesDir: opts.filesDir,
        secretFile: opts.secretFile,
        host: opts.host,
        port: opts.port,
        p2pPort: opts.p2pPort,
        p2pHost: opts.p2pHost,
        bootstrap: opts.bootstrap,
        apiKeys: opts.apiKeys,
        adminToken: opts.adminToken,
        plans: planLimits(opts),
        publicUrl: opts.publicUrl,
        webhooks: { allowInsecure: opts.allowHttpWebhooks },
        batches: { completionWindowSeconds: opts.completionWindowSeconds },
        scheduler: { acceptUnverified: opts.acceptUnverified, realtimeShare: opts.realtimeShare },
        trust: { checkRate: opts.auditRate, trustAfter: opts.trustAfter, allowlist: opts.verifier, quarantineStrikes: opts.quarantineStrikes },
        identity: { digests: opts.modelDigests }
      }))
    })
  await program.parseAsync(argv)
}
