import { describe, expect, it } from 'vitest'
import { driaSelect, driaWeights, samplingUniform } from '../sampler/index.js'
import { MAX_SELECTION_MARGIN } from './constants.js'
import { compareEmbeddings } from './embedding.js'
import { PlausibilityTest, referenceDistribution } from './plausibility.js'
import { couldSelect, greedyMargin, seededMargin } from './selection.js'
import type { Candidate } from '../sampler/index.js'

/** A deterministic pseudo-random logit list of `n` candidates in candidate order. */
function candidates (n: number, seed: number, spread = 3): Candidate[] {
  let state = seed
  const next = (): number => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 }
  return Array.from({ length: n }, (_, token) => ({ token, logit: spread * next() }))
    .sort((a, b) => b.logit - a.logit || a.token - b.token)
}

describe('greedyMargin', () => {
  it('is 0 for the best candidate and the logit gap otherwise', () => {
    const top = candidates(10, 1)
    expect(greedyMargin(top, top[0])).toBe(0)
    expect(greedyMargin(top, top[3])).toBeCloseTo(top[0].logit - top[3].logit)
  })
})

describe('seededMargin', () => {
  const sampling = { temperature: 0.8, topP: 1 }

  it('is 0 for exactly the token dria-1 selects, at every u and top_p', () => {
    for (const topP of [1, 0.9, 0.5]) {
      for (let position = 0; position < 200; position++) {
        const top = candidates(40, position + 1)
        const u = samplingUniform(9, position)
        const chosen = top[driaSelect(top, { ...sampling, topP }, u)]
        expect(seededMargin(top, chosen, { ...sampling, topP }, u)).toBe(0)
      }
    }
  })

  it('needs a drift of about the distance to the boundary for a neighbour just past it', () => {
    const top = candidates(40, 3)
    const { weights, keptWeight } = driaWeights(top, sampling)
    // u just above the first candidate's share: dria-1 picks the second; claiming the first
    // needs the first's weight to grow until its share passes u.
    const share = weights[0] / keptWeight
    const u = share * 1.001
    expect(driaSelect(top, sampling, u)).toBe(1)
    const margin = seededMargin(top, top[0], sampling, u)
    expect(margin).toBeGreaterThan(0)
    expect(margin).toBeLessThan(0.01)
    // Far from any boundary the same claim needs a large drift.
    expect(seededMargin(top, top[0], sampling, 0.99)).toBeGreaterThan(1)
  })

  it('reports the maximum for a token no drift makes a candidate', () => {
    const top = candidates(40, 4)
    const outsider = { token: 999, logit: top[39].logit - 100 }
    expect(seededMargin(top, outsider, sampling, 0.5)).toBe(MAX_SELECTION_MARGIN)
  })

  it('lets a token tied with the 40th within the tolerance in, but not one further down', () => {
    const top = candidates(40, 5)
    // The last candidate is selected for u close to 1.
    const u = 0.99999
    const near = { token: 1000, logit: top[39].logit - 0.005 }
    const far = { token: 1001, logit: top[39].logit - 0.5 }
    expect(couldSelect(top, near, sampling, u, 40, 0.01)).toBe(true)
    expect(couldSelect(top, far, sampling, u, 40, 0.01)).toBe(false)
  })

  it('does not select a token cut by top_p, unless the cut is within the tolerance', () => {
    const top = [{ token: 0, logit: 2 }, { token: 1, logit: 1 }, { token: 2, logit: 0 }]
    const topP = { temperature: 1, topP: 0.5 }
    // token 0 alone holds 66% of the weight: top_p 0.5 keeps only it.
    expect(driaWeights(top, topP).kept).toBe(1)
    expect(couldSelect(top, top[1], topP, 0.2, 40, 0.01)).toBe(false)
    expect(couldSelect(top, top[0], topP, 0.99, 40, 0)).toBe(true)
  })
})

describe('PlausibilityTest', () => {
  function draw (probabilities: number[], u: number): number {
    let cumulative = 0
    for (const [j, p] of probabilities.entries()) {
      cumulative += p
      if (cumulative > u) return j
    }
    return probabilities.length - 1
  }

  it('gives honest samples z-scores of a standard normal and made-up tokens large ones', () => {
    const honest: number[] = []
    const madeUp: number[] = []
    for (let line = 0; line < 300; line++) {
      const test = new PlausibilityTest()
      const lie = new PlausibilityTest()
      for (let position = 0; position < 30; position++) {
        const top = candidates(40, line * 100 + position + 1, 6)
        const { probabilities } = referenceDistribution(top, top[0], 0.8, 0)
        test.add(probabilities, draw(probabilities, samplingUniform(line, position)))
        // A liar's token: anywhere in the list, uniformly.
        lie.add(probabilities, Math.floor(samplingUniform(line + 1000, position) * 40))
      }
      honest.push(test.result(1 / 12).z)
      madeUp.push(lie.result(1 / 12).z)
    }
    const mean = honest.reduce((a, b) => a + b, 0) / honest.length
    const sd = Math.sqrt(honest.reduce((a, b) => a + (b - mean) ** 2, 0) / honest.length)
    expect(Math.abs(mean)).toBeLessThan(0.2)
    expect(Math.abs(sd - 1)).toBeLessThan(0.15)
    expect(Math.max(...honest)).toBeLessThan(3.5)
    expect(Math.min(...madeUp)).toBeGreaterThan(3.5)
  })

  it('counts a token outside the distribution as its unlikeliest end', () => {
    const top = candidates(40, 7)
    const { probabilities, index } = referenceDistribution(top, { token: 5000, logit: -100 }, 1, 0.01)
    expect(index).toBe(-1)
    const test = new PlausibilityTest()
    test.add(probabilities, index)
    const result = test.result(0)
    expect(result.meanRank).toBe(1)
    expect(result.minProbability).toBe(0)
  })
})

describe('compareEmbeddings', () => {
  it('accepts equal vectors and finds the first one beyond the tolerance', () => {
    const vectors = [[1, 2, 3], [0.5, -4, 2]]
    expect(compareEmbeddings(vectors, vectors)).toEqual({ worst: 0 })
    const off = [[1, 2, 3], [0.5, -4, 2.1]]
    expect(compareEmbeddings(off, vectors).mismatch?.index).toBe(1)
    expect(compareEmbeddings([[1, 2, 3]], vectors).mismatch?.index).toBe(1)
    expect(compareEmbeddings([[1, 2], [0.5, -4, 2]], vectors).mismatch?.index).toBe(0)
    expect(compareEmbeddings([[1, 2, Number.NaN], [0.5, -4, 2]], vectors).mismatch?.index).toBe(0)
  })
})
