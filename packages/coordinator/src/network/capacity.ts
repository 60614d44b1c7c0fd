/**
 * How many tasks a node has earned to hold at once: additive increase on every answer,
 * multiplicative decrease on a timeout or refusal (AIMD, as TCP's congestion window), within
 * [1, what the node advertises]. A node's claim only caps the window; its answers open it, so
 * a peer that lies about its slots gets no more work than it actually delivers.
 */
export class EarnedCapacity {
  #window: number
  #threshold: number
  #max: number

  /**
   * @param max - the node's advertised slots + queue: never more than this
   * @param initial - where a new session starts (default 2)
   */
  constructor (max: number, initial = 2) {
    this.#max = Math.max(1, max)
    this.#window = Math.min(this.#max, Math.max(1, initial))
    this.#threshold = this.#max
  }

  /** Tasks that may be outstanding now. */
  get limit (): number {
    return Math.floor(this.#window)
  }

  get max (): number {
    return this.#max
  }

  /** Lowers (or raises) the cap, e.g. while the node is not yet trusted. */
  cap (max: number): void {
    this.#max = Math.max(1, max)
    this.#window = Math.min(this.#window, this.#max)
  }

  /** An answer arrived: +1 per answer until the last threshold, then +1 per window of answers. */
  answered (): void {
    const step = this.#window < this.#threshold ? 1 : 1 / this.#window
    this.#window = Math.min(this.#max, this.#window + step)
  }

  /** A timeout or a refusal at capacity: halve. */
  congested (): void {
    this.#window = Math.max(1, this.#window / 2)
    this.#threshold = Math.max(1, this.#window)
  }
}
