import { writeFile } from 'node:fs/promises'
import type { DriaClient } from '../client/index.js'
import { FINAL_STATUSES } from '../client/index.js'
import { CliError } from '../errors.js'
import { EXIT_LINES_FAILED } from '../constants.js'

/**
 * `dria batches results <id>`: a finished batch's output lines, then its error lines, as the
 * coordinator wrote them, to `output` or stdout.
 */
export async function batchResults (client: DriaClient, id: string, output: string | undefined): Promise<void> {
  const batch = await client.getBatch(id)
  if (!FINAL_STATUSES.has(batch.status)) {
    const counts = batch.request_counts
    throw new CliError('BATCH_NOT_FINISHED', `batch ${id} is ${batch.status}${counts === undefined ? '' : ` (${counts.completed + counts.failed}/${counts.total} done)`}; try again when it has finished`, EXIT_LINES_FAILED)
  }
  const parts: string[] = []
  for (const fileId of [batch.output_file_id, batch.error_file_id]) {
    if (fileId === null || fileId === undefined) continue
    const text = await client.fileText(fileId)
    if (text !== '') parts.push(text.endsWith('\n') ? text : `${text}\n`)
  }
  if (output === undefined) process.stdout.write(parts.join(''))
  else await writeFile(output, parts.join(''))
  if (batch.status === 'failed') throw new CliError('BATCH_FAILED', `batch ${id} failed: ${batch.errors?.data?.[0]?.message ?? 'see dria batches get'}`, EXIT_LINES_FAILED)
}
