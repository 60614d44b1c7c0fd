import { open, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import type { TaskStore } from '../store/index.js'

/** index (uint32) and model number (uint16) of one pending row. */
const ENTRY_BYTES = 6
const BUFFER_ENTRIES = 16_384
/** Index entries written per LevelDB batch. */
const WRITE_ENTRIES = 4_096

export interface DeferredIndex {
  /** Notes a pending row of the batch (rows come in index order). */
  add(model: string, index: number): void
  /** Writes what `add` noted to the scratch file (awaited per chunk, so memory stays bounded). */
  flush(): Promise<void>
  /** Writes every noted row into the pending index. */
  write(): Promise<void>
  /** Deletes the scratch file. */
  discard(): Promise<void>
}

/**
 * The pending rows of a batch being split, noted in a scratch file (6 bytes each, whatever the
 * file size) so that their pending index is written in a second pass after the rows: see
 * TaskStore.indexPending.
 */
export function createDeferredIndex (components: { tasks: TaskStore }, init: { batchId: string, path: string }): DeferredIndex {
  const models: string[] = []
  const modelNumbers = new Map<string, number>()
  let file: FileHandle | undefined
  let buffer = Buffer.allocUnsafe(BUFFER_ENTRIES * ENTRY_BYTES)
  let used = 0
  /** Full buffers waiting for `flush`. */
  let full: Buffer[] = []

  async function flush (): Promise<void> {
    if (full.length === 0) return
    file ??= await open(init.path, 'w+')
    const buffers = full
    full = []
    for (const b of buffers) await file.write(b)
  }

  return {
    add (model, index) {
      let number = modelNumbers.get(model)
      if (number === undefined) {
        number = models.push(model) - 1
        modelNumbers.set(model, number)
      }
      buffer.writeUInt32LE(index, used)
      buffer.writeUInt16LE(number, used + 4)
      used += ENTRY_BYTES
      if (used === buffer.length) {
        full.push(buffer)
        buffer = Buffer.allocUnsafe(BUFFER_ENTRIES * ENTRY_BYTES)
        used = 0
      }
    },
    flush,
    async write () {
      await flush()
      const tail = buffer.subarray(0, used)
      const entries: Array<{ batchId: string, model: string, index: number }> = []
      const take = async (bytes: Buffer): Promise<void> => {
        for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
          entries.push({ batchId: init.batchId, index: bytes.readUInt32LE(at), model: models[bytes.readUInt16LE(at + 4)] })
          if (entries.length === WRITE_ENTRIES) await components.tasks.indexPending(entries.splice(0))
        }
      }
      if (file !== undefined) {
        const chunk = Buffer.allocUnsafe(BUFFER_ENTRIES * ENTRY_BYTES)
        for (let position = 0; ; position += chunk.length) {
          const { bytesRead } = await file.read(chunk, 0, chunk.length, position)
          if (bytesRead === 0) break
          await take(chunk.subarray(0, bytesRead))
        }
      }
      await take(tail)
      if (entries.length > 0) await components.tasks.indexPending(entries)
    },
    async discard () {
      await file?.close()
      file = undefined
      await rm(init.path, { force: true })
    }
  }
}
