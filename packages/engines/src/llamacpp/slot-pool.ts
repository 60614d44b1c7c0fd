/**
 * A fixed set of reusable items (a context's sequences) handed out one caller at a time;
 * callers wait in arrival order when none is free, and can give up through their signal.
 */
export interface SlotPool<T> {
  acquire(signal: AbortSignal): Promise<T>
  release(item: T): void
}

export function createSlotPool<T> (items: T[]): SlotPool<T> {
  const free = [...items]
  const waiters: Array<(item: T) => void> = []

  return {
    async acquire (signal) {
      signal.throwIfAborted()
      const item = free.shift()
      if (item !== undefined) return item
      return await new Promise<T>((resolve, reject) => {
        const onAbort = (): void => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(signal.reason)
        }
        const waiter = (next: T): void => {
          signal.removeEventListener('abort', onAbort)
          resolve(next)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        waiters.push(waiter)
      })
    },

    release (item) {
      const waiter = waiters.shift()
      if (waiter === undefined) free.push(item)
      else waiter(item)
    }
  }
}
