/**
 * Counts concurrently running tasks. The node never queues work it has no room for:
 * `tryAcquire` fails immediately so the coordinator can send the task elsewhere.
 */
export class Slots {
  readonly total: number
  #used = 0
  #idle: Array<() => void> = []

  constructor (total: number) {
    this.total = total
  }

  get free (): number {
    return this.total - this.#used
  }

  get used (): number {
    return this.#used
  }

  /** Returns a release function, or undefined when every slot is taken. */
  tryAcquire (): (() => void) | undefined {
    if (this.#used >= this.total) return undefined
    this.#used++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#used--
      if (this.#used === 0) this.#idle.splice(0).forEach(resolve => { resolve() })
    }
  }

  /** Resolves once no slot is in use. */
  async drained (): Promise<void> {
    if (this.#used === 0) return
    await new Promise<void>(resolve => this.#idle.push(resolve))
  }
}
