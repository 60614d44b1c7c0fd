import { randomBytes } from 'node:crypto'
import { apiError } from '../errors.js'
import { newId } from '../ids.js'
import type { Store, UploadSlot } from '../store/index.js'

/** How long an upload URL stays valid. */
export const UPLOAD_URL_TTL_SECONDS = 3600
const SWEEP_INTERVAL_MS = 15 * 60_000

export interface UploadSlots {
  /** A new single-use slot for `owner`, remembering the limits of their plan. */
  open(owner: string, limits: { fileBytes: number, filesPerDay: number }): Promise<UploadSlot>
  /**
   * Claims the slot of `token` for an upload (`upload_not_found` when unknown, used, expired
   * or claimed by an upload in progress). `consume` once the upload is stored; `release` when
   * it failed, so the URL can be used again.
   */
  claim(token: string): Promise<{ slot: UploadSlot, consume: () => Promise<void>, release: () => void }>
  /** The live slot of `owner` for the future file `fileId` (direct uploads know only the file id). */
  findByFile(owner: string, fileId: string): Promise<UploadSlot | undefined>
  /** Deletes expired slots now and every 15 minutes. */
  start(): Promise<void>
  stop(): void
}

/**
 * Dria-style upload URLs: the URL carries a secret token naming a slot. A slot is used by
 * exactly one successful upload (even among simultaneous PUTs); a failed or aborted one leaves
 * it usable. Unused slots expire after an hour.
 */
export function createUploadSlots (components: { store: Store }): UploadSlots {
  const { store } = components
  const taking = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  const nowSeconds = (): number => Math.floor(Date.now() / 1000)

  async function sweep (): Promise<void> {
    for await (const slot of store.uploads.all()) {
      if (slot.expires_at < nowSeconds()) await store.uploads.delete(slot)
    }
  }

  return {
    async open (owner, limits) {
      const slot: UploadSlot = {
        id: randomBytes(24).toString('base64url'),
        owner,
        fileId: newId('file-'),
        filename: 'upload.jsonl',
        maxBytes: limits.fileBytes,
        filesPerDay: Number.isFinite(limits.filesPerDay) ? limits.filesPerDay : null,
        expires_at: nowSeconds() + UPLOAD_URL_TTL_SECONDS
      }
      await store.uploads.put(slot)
      return slot
    },
    async claim (token) {
      if (taking.has(token)) throw apiError('upload_not_found', 'This upload URL is already in use.')
      taking.add(token)
      let released = false
      const release = (): void => {
        if (!released) taking.delete(token)
        released = true
      }
      try {
        const slot = await store.uploads.get(token)
        if (slot === undefined) throw apiError('upload_not_found', 'This upload URL is unknown or was already used.')
        if (slot.expires_at < nowSeconds()) {
          await store.uploads.delete(slot)
          throw apiError('upload_not_found', 'This upload URL has expired.')
        }
        return {
          slot,
          consume: async () => {
            await store.uploads.delete(slot)
            release()
          },
          release
        }
      } catch (err) {
        release()
        throw err
      }
    },
    async findByFile (owner, fileId) {
      // Slots live an hour and are swept, so there are only as many as URLs handed out lately.
      for await (const slot of store.uploads.all()) {
        if (slot.fileId === fileId && slot.owner === owner && slot.expires_at >= nowSeconds()) return slot
      }
      return undefined
    },
    async start () {
      await sweep()
      timer = setInterval(() => { void sweep().catch(() => {}) }, SWEEP_INTERVAL_MS)
      timer.unref()
    },
    stop () {
      clearInterval(timer)
    }
  }
}
