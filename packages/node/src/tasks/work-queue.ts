/** One unit of admitted work: runs once a slot is free; `signal` aborts it queued or running. */
export interface Job {
  run(): Promise<void>
  /** Called instead of `run` when the job leaves the queue unrun: aborted, or cleared at shutdown. */
  dropped(reason: 'aborted' | 'cleared'): void
  signal: AbortSignal
}

export interface WorkQueueInit {
  /** Jobs that run at once (the engine's slots). */
  slots: number
  /** Jobs admitted beyond the slots, to run as soon as one frees: the engine never waits on the network. */
  queueDepth: number
}

/**
 * Admission and order of the node's work. At most `slots` jobs run; up to `queueDepth` more
 * wait in arrival order; anything beyond is refused at once, so the requester can go elsewhere.
 */
export class WorkQueue {
  readonly slots: number
  readonly queueDepth: number
  #running = 0
  readonly #waiting: Job[] = []
  #idle: Array<() => void> = []

  constructor (init: WorkQueueInit) {
    this.slots = init.slots
    this.queueDepth = init.queueDepth
  }

  /** Jobs running now. */
  get running (): number { return this.#running }
  /** Jobs admitted and waiting for a slot. */
  get waiting (): number { return this.#waiting.length }
  /** How many more jobs would be admitted now. */
  get free (): number { return this.slots + this.queueDepth - this.#running - this.#waiting.length }

  /** Admits `job` (false when full). It runs now or after the jobs ahead of it. */
  admit (job: Job): boolean {
    if (this.free <= 0 || job.signal.aborted) return false
    if (this.#running < this.slots) {
      this.#start(job)
      return true
    }
    this.#waiting.push(job)
    job.signal.addEventListener('abort', () => {
      const index = this.#waiting.indexOf(job)
      if (index < 0) return
      this.#waiting.splice(index, 1)
      job.dropped('aborted')
      this.#settle()
    }, { once: true })
    return true
  }

  /** Hands back every job still waiting (shutdown): running jobs continue. */
  clearWaiting (): void {
    for (const job of this.#waiting.splice(0)) job.dropped('cleared')
    this.#settle()
  }

  /** Resolves once nothing runs or waits. */
  async drained (): Promise<void> {
    if (this.#running === 0 && this.#waiting.length === 0) return
    await new Promise<void>(resolve => this.#idle.push(resolve))
  }

  #start (job: Job): void {
    this.#running++
    job.run().catch(() => {}).finally(() => {
      this.#running--
      const next = this.#waiting.shift()
      if (next !== undefined) this.#start(next)
      this.#settle()
    })
  }

  #settle (): void {
    if (this.#running === 0 && this.#waiting.length === 0) this.#idle.splice(0).forEach(resolve => { resolve() })
  }
}
