import { Command } from 'commander'
import { option, parseInteger } from '@dria/protocol'
import { DriaClient } from './client.js'
import type { BatchObject } from './client.js'

interface GlobalOptions { url: string, apiKey: string }

function progressLine (batch: BatchObject): string {
  const { total, completed, failed } = batch.request_counts
  const done = completed + failed
  const width = 30
  const filled = total > 0 ? Math.round(width * done / total) : 0
  return `${batch.status.padEnd(11)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} (${failed} failed)`
}

function errorsPathFor (output: string): string {
  return output.endsWith('.jsonl') ? `${output.slice(0, -6)}.errors.jsonl` : `${output}.errors.jsonl`
}

export async function runCli (argv: string[]): Promise<void> {
  const program = new Command('dria')
    .description('Run batch inference on the Dria network')
    .addOption(option('--url <url>', 'coordinator API', 'DRIA_URL', 'http://127.0.0.1:8080'))
    .addOption(option('--api-key <key>', 'API key', 'DRIA_API_KEY', ''))
  const client = (): DriaClient => {
    const opts = program.opts<GlobalOptions>()
    return new DriaClient({ baseUrl: opts.url, apiKey: opts.apiKey })
  }
  const print = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`) }

  program.command('batch <input>')
    .description('upload a JSONL file, run it as a batch and download the results')
    .requiredOption('-o, --output <file>', 'where to write the results (errors go to <output>.errors.jsonl)')
    .option('--endpoint <path>', 'OpenAI endpoint of the lines', '/v1/chat/completions')
    .option('--model <name>', 'model for lines that carry only a prompt')
    .addOption(option('--poll-ms <ms>', 'status poll interval', 'DRIA_POLL_MS', 1000).argParser(parseInteger(50)))
    .action(async (input: string, opts: { output: string, endpoint: string, model?: string, pollMs: number }) => {
      const api = client()
      const file = await api.uploadFile(input)
      const created = await api.createBatch({
        input_file_id: file.id,
        endpoint: opts.endpoint,
        metadata: opts.model === undefined ? undefined : { model: opts.model }
      })
      process.stderr.write(`batch ${created.id} created from ${file.filename} (${file.bytes} bytes)\n`)
      const batch = await api.waitForBatch(created.id, {
        intervalMs: opts.pollMs,
        onProgress: b => { process.stderr.write(`\r${progressLine(b)}`) }
      })
      process.stderr.write('\n')
      if (batch.status === 'failed') {
        for (const e of batch.errors?.data ?? []) process.stderr.write(`line ${e.line ?? '-'}: ${e.code}: ${e.message}\n`)
        process.exitCode = 1
        return
      }
      if (batch.output_file_id !== null) {
        await api.downloadFile(batch.output_file_id, opts.output)
        process.stderr.write(`results: ${opts.output}\n`)
      }
      if (batch.error_file_id !== null) {
        const errorsPath = errorsPathFor(opts.output)
        await api.downloadFile(batch.error_file_id, errorsPath)
        process.stderr.write(`errors:  ${errorsPath}\n`)
      }
      if (batch.status !== 'completed') process.exitCode = 1
    })

  program.command('models').description('models live nodes serve').action(async () => { print(await client().models()) })
  program.command('nodes').description('live nodes: models, speed, slots').action(async () => { print(await client().nodes()) })

  const files = program.command('files').description('uploaded and result files')
  files.command('list').action(async () => { print(await client().listFiles()) })
  files.command('upload <path>').action(async (path: string) => { print(await client().uploadFile(path)) })
  files.command('download <id> <path>').action(async (id: string, path: string) => { await client().downloadFile(id, path) })

  const batches = program.command('batches').description('batch jobs')
  batches.command('list').action(async () => { print(await client().listBatches()) })
  batches.command('get <id>').action(async (id: string) => { print(await client().getBatch(id)) })
  batches.command('cancel <id>').action(async (id: string) => { print(await client().cancelBatch(id)) })

  try {
    await program.parseAsync(argv)
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}
