import { createRequire } from 'node:module'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { option, parseChoice, parseInteger } from '@dria/protocol'
import { DriaClient } from './client/index.js'
import {
  AUTO_MODEL, DEFAULT_CONCURRENCY, DEFAULT_MAX_TOKENS, DEFAULT_POLL_MS, DEFAULT_RETRIES, DEFAULT_TEMPERATURE, DEFAULT_URL,
  EXIT_OK, EXIT_USAGE
} from './constants.js'
import { CliError, describeApiError, usageError } from './errors.js'
import { runBatchCommand } from './commands/batch.js'
import type { BatchOptions } from './commands/batch.js'
import { batchResults } from './commands/batch-results.js'

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

interface GlobalOptions { url: string, apiKey: string }

const PLANS = ['free', 'developer', 'enterprise'] as const

function parseTemperature (value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || n > 2) throw new InvalidArgumentError('expected a number from 0 to 2')
  return n
}

/** An option without a default value whose help still says what happens without it. */
function optional (flags: string, description: string, env: string, without: string): Option {
  return new Option(flags, `${description} (default: ${without})`).env(env)
}

/** Runs `dria` with `argv`; resolves with the exit code (0 all ok, 1 some lines failed, 2 usage or input error). */
export async function runCli (argv: string[]): Promise<number> {
  let exitCode = EXIT_OK
  const program = new Command('dria')
    .description('Run inference on the Dria network')
    .version(version, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addOption(option('--url <url>', 'coordinator', 'DRIA_URL', DEFAULT_URL))
    .addOption(option('--api-key <key>', 'API key', 'DRIA_API_KEY', ''))

  const connection = (): GlobalOptions => program.opts<GlobalOptions>()
  const client = (key?: string): DriaClient => {
    const { url, apiKey } = connection()
    return new DriaClient({ baseUrl: url, apiKey: key ?? apiKey })
  }
  const print = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`) }
  /** Every action: coded errors become one line on stderr and their exit code. */
  const run = <A extends unknown[]>(action: (...args: A) => Promise<number | undefined | void>, credential: 'api-key' | 'admin-token' = 'api-key') => async (...args: A): Promise<void> => {
    try {
      exitCode = (await action(...args)) ?? EXIT_OK
    } catch (err) {
      const coded = err instanceof CliError ? err : describeApiError(err, { url: connection().url, credential })
      process.stderr.write(`error: ${coded.message}\n`)
      exitCode = coded.exitCode
    }
  }

  program.command('batch <input>')
    .description('run every line of a JSONL file ({"prompt", "id"?, "attachment"?}) on the network')
    .addOption(option('-m, --model <name>', 'model, or auto: chosen per line by node availability and what its attachment needs', 'DRIA_MODEL', AUTO_MODEL))
    .addOption(optional('-o, --output <file>', 'results file; a re-run with the same file skips the lines already there', 'DRIA_OUTPUT', 'stdout'))
    .addOption(option('-c, --concurrency <n>', 'requests at once', 'DRIA_CONCURRENCY', DEFAULT_CONCURRENCY).argParser(parseInteger(1, 1000)))
    .addOption(optional('--schema <fields>', 'structured output: fields name[:type], e.g. \'sentiment,confidence:number\'', 'DRIA_SCHEMA', 'text output'))
    .addOption(optional('--schema-file <file>', 'structured output: a JSON schema file', 'DRIA_SCHEMA_FILE', 'text output'))
    .addOption(option('--retries <n>', 'retries of a failed line, with exponential backoff and jitter', 'DRIA_RETRIES', DEFAULT_RETRIES).argParser(parseInteger(0, 100)))
    .addOption(option('--max-tokens <n>', 'most tokens generated per line', 'DRIA_MAX_TOKENS', DEFAULT_MAX_TOKENS).argParser(parseInteger(1, 1_000_000)))
    .addOption(option('--temperature <t>', 'sampling temperature (0 to 2)', 'DRIA_TEMPERATURE', DEFAULT_TEMPERATURE).argParser(parseTemperature))
    .addOption(option('--json', 'no progress bar; the summary as JSON on stderr (for piping)', 'DRIA_JSON', false))
    .addOption(option('--batch', 'submit the lines as one batch through the Batches API instead of real-time requests', 'DRIA_BATCH', false))
    .addOption(option('--poll-ms <ms>', 'with --batch: how often the batch is polled', 'DRIA_POLL_MS', DEFAULT_POLL_MS).argParser(parseInteger(50)))
    .action(run(async (input: string, opts: BatchOptions) => await runBatchCommand(input, opts, connection())))

  program.command('models').description('models live nodes serve, with node counts and capabilities')
    .action(run(async () => { print(await client().models()) }))
  program.command('nodes').description('live nodes: models, speed, slots, trust')
    .action(run(async () => { print(await client().nodes()) }))

  const files = program.command('files').description('uploaded and result files')
  files.command('list').action(run(async () => { print(await client().listFiles()) }))
  files.command('upload <path>').action(run(async (path: string) => { print(await client().uploadFile(path)) }))
  files.command('download <id> <path>').action(run(async (id: string, path: string) => { await client().downloadFile(id, path) }))

  const batches = program.command('batches').description('batch jobs')
  batches.command('list').action(run(async () => { print(await client().listBatches()) }))
  batches.command('get <id>').action(run(async (id: string) => { print(await client().getBatch(id)) }))
  batches.command('cancel <id>').action(run(async (id: string) => { print(await client().cancelBatch(id)) }))
  batches.command('results <id>')
    .description('a finished batch\'s output lines, then its error lines')
    .addOption(optional('-o, --output <file>', 'where to write them', 'DRIA_OUTPUT', 'stdout'))
    .action(run(async (id: string, opts: { output?: string }) => { await batchResults(client(), id, opts.output) }))

  const keys = program.command('keys').description('API keys (admin API)')
    .addOption(option('--admin-token <token>', 'the coordinator\'s DRIA_ADMIN_TOKEN', 'DRIA_ADMIN_TOKEN', ''))
  const admin = (): DriaClient => {
    const token = keys.opts<{ adminToken: string }>().adminToken
    if (token === '') throw usageError('NO_ADMIN_TOKEN', 'no admin token: set --admin-token or DRIA_ADMIN_TOKEN')
    return client(token)
  }
  keys.command('create <name>').description('create a key (printed once)')
    .addOption(option('--plan <plan>', PLANS.join(' | '), 'DRIA_PLAN', 'free').argParser(parseChoice(PLANS)))
    .action(run(async (name: string, opts: { plan: string }) => { print(await admin().createKey(name, opts.plan)) }, 'admin-token'))
  keys.command('list').action(run(async () => { print(await admin().listKeys()) }, 'admin-token'))
  keys.command('revoke <id>').action(run(async (id: string) => { print(await admin().revokeKey(id)) }, 'admin-token'))

  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err
    // Commander has printed the message (or the help, or the version) already.
    return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT_OK : EXIT_USAGE
  }
  return exitCode
}
