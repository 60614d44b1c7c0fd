/** Lines per second of each batch, from the progress the page saw over the last minute. */
export class RateTracker {
  readonly #samples = new Map<string, Array<{ at: number, done: number }>>()
  readonly #windowMs: number

  constructor (windowMs = 60_000) {
    this.#windowMs = windowMs
  }

  observe (id: string, done: number, at: number): void {
    const samples = this.#samples.get(id) ?? []
    const last = samples[samples.length - 1]
    if (last !== undefined && last.done === done) return
    samples.push({ at, done })
    while (samples.length > 2 && at - samples[0].at > this.#windowMs) samples.shift()
    this.#samples.set(id, samples)
  }

  /** Null until two different counts were seen. */
  rate (id: string): number | null {
    const samples = this.#samples.get(id)
    if (samples === undefined || samples.length < 2) return null
    const first = samples[0]
    const last = samples[samples.length - 1]
    return last.at > first.at ? (last.done - first.done) / ((last.at - first.at) / 1000) : null
  }

  forget (id: string): void {
    this.#samples.delete(id)
  }
}
