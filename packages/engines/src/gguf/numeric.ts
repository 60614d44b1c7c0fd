// Weights must be byte-identical on every machine, so generation uses only integer ops and
// IEEE-754 basic arithmetic (+ - * / sqrt are correctly rounded everywhere); Math.log/exp
// are implementation-defined and are not used.

/** mulberry32: a small, seedable PRNG returning floats in [0, 1). */
export function createPrng (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const LN2 = 0.6931471805599453

/** Natural logarithm of x > 0 from range reduction and the atanh series. */
export function ln (x: number): number {
  let exponent = 0
  while (x >= 2) { x /= 2; exponent++ }
  while (x < 1) { x *= 2; exponent-- }
  // ln(x) = 2 atanh(z) with z = (x - 1) / (x + 1) ≤ 1/3: 30 terms reach double precision.
  const z = (x - 1) / (x + 1)
  const z2 = z * z
  let term = z
  let sum = 0
  for (let k = 1; k < 60; k += 2) {
    sum += term / k
    term *= z2
  }
  return 2 * sum + exponent * LN2
}
