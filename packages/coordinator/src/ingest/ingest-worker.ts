import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { DriaError } from '@dria/protocol'
import { WORKER_AHEAD_CHUNKS, WORKER_OLD_GENERATION_MB, WORKER_YOUNG_GENERATION_MB } from './constants.js'
import { ingestFile } from './ingest-file.js'
import type { IngestOptions, IngestSummary, TaskSpec } from './types.js'

type FromWorker =
  | { type: 'tasks', tasks: TaskSpec[] }
  | { type: 'done', summary: IngestSummary }
  | { type: 'error', message: string, code?: string }

interface Job { path: string, options: Omit<IngestOptions, 'signal'> }

/**
 * ingestFile in a worker thread: parsing and validating (the CPU-heavy half) run beside the
 * caller's LevelDB writes instead of taking turns with them. Same contract as ingestFile; each
 * chunk is handed over as a message and the worker stays at most WORKER_AHEAD_CHUNKS in front.
 */
export async function ingestInWorker (path: string, options: IngestOptions, onTasks: (tasks: TaskSpec[]) => Promise<void>): Promise<IngestSummary> {
  const { signal, ...rest } = options
  signal?.throwIfAborted()
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { path, options: rest } satisfies Job,
    // Its garbage is short-lived: small generations keep its memory small (it needs a few
    // chunks of at most 512 KiB of bodies at a time).
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: WORKER_OLD_GENERATION_MB }
  })
  let abort = (): void => {}
  try {
    return await new Promise<IngestSummary>((resolve, reject) => {
      let chain = Promise.resolve()
      abort = () => { reject(signal?.reason); void worker.terminate() }
      signal?.addEventListener('abort', abort, { once: true })
      worker.on('error', reject)
      worker.on('exit', code => { reject(new Error(`ingest worker exited (${code})`)) })
      worker.on('message', (message: FromWorker) => {
        chain = chain.then(async () => {
          if (message.type === 'tasks') {
            await onTasks(message.tasks)
            worker.postMessage('ack')
          } else if (message.type === 'done') {
            resolve(message.summary)
          } else {
            reject(message.code === undefined ? new Error(message.message) : new DriaError(message.code, message.message))
          }
        }).catch(err => { reject(err); void worker.terminate() })
      })
    })
  } finally {
    signal?.removeEventListener('abort', abort)
    await worker.terminate()
  }
}

async function runJob (job: Job): Promise<void> {
  const port = parentPort!
  let unacked = 0
  let wake: (() => void) | undefined
  port.on('message', () => {
    unacked--
    wake?.()
  })
  try {
    const summary = await ingestFile(job.path, job.options, async (tasks) => {
      port.postMessage({ type: 'tasks', tasks } satisfies FromWorker)
      unacked++
      while (unacked >= WORKER_AHEAD_CHUNKS) await new Promise<void>(resolve => { wake = resolve })
    })
    while (unacked > 0) await new Promise<void>(resolve => { wake = resolve })
    port.postMessage({ type: 'done', summary } satisfies FromWorker)
  } catch (err) {
    port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err), code: err instanceof DriaError ? err.code : undefined } satisfies FromWorker)
  }
}

if (!isMainThread && (workerData as Job | undefined)?.path !== undefined) await runJob(workerData as Job)
