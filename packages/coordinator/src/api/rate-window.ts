/** Sums of what happened in each of the last `seconds` seconds: a sliding per-second rate. */
export class RateWindow {
  readonly seconds: number
  readonly #buckets: Float64Array
  readonly #now: () => number
  /** The second (since epoch) the newest bucket belongs to. */
  #second: number

  constructor (seconds: number, now: () => number = Date.now) {
    this.seconds = seconds
    this.#buckets = new Float64Array(seconds)
    this.#now = now
    this.#second = Math.floor(now() / 1000)
  }

  add (amount: number): void {
    this.#advance()
    this.#buckets[this.#second % this.seconds] += amount
  }

  /** Average per second over the window. */
  perSecond (): number {
    this.#advance()
    let sum = 0
    for (const value of this.#buckets) sum += value
    return sum / this.seconds
  }

  /** Empties the buckets of the seconds that passed since the last call. */
  #advance (): void {
    const second = Math.floor(this.#now() / 1000)
    const passed = Math.min(second - this.#second, this.seconds)
    for (let i = 1; i <= passed; i++) this.#buckets[(this.#second + i) % this.seconds] = 0
    if (second > this.#second) this.#second = second
  }
}
