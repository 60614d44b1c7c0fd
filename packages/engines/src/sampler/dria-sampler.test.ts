import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { driaSample, driaSelect, driaWeights, samplingUniform, topCandidates } from './index.js'
import type { Candidate } from './index.js'

const candidates = (logits: number[]): Candidate[] => logits.map((logit, token) => ({ token, logit }))

describe('samplingUniform', () => {
  it('is the first 53 bits of SHA-256(tag ‖ int64 seed ‖ uint32 position) over 2^53', () => {
    const input = Buffer.concat([Buffer.from('dria-sampler/1'), Buffer.from('0000000000000007', 'hex'), Buffer.from('00000003', 'hex')])
    const digest = createHash('sha256').update(input).digest()
    const expected = Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53
    expect(samplingUniform(7, 3)).toBe(expected)
  })

  it('encodes negative seeds as two\'s complement', () => {
    const input = Buffer.concat([Buffer.from('dria-sampler/1'), Buffer.from('ffffffffffffffff', 'hex'), Buffer.from('00000000', 'hex')])
    const digest = createHash('sha256').update(input).digest()
    expect(samplingUniform(-1, 0)).toBe(Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53)
  })

  it('stays in [0, 1), differs by seed and by position, and looks uniform', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => samplingUniform(42, i))
    expect(values.every(u => u >= 0 && u < 1)).toBe(true)
    expect(samplingUniform(42, 0)).not.toBe(samplingUniform(43, 0))
    expect(new Set(values).size).toBe(values.length)
    // Each decile holds 10% ± 1% of the draws (deterministic: the values are fixed).
    const deciles = Array<number>(10).fill(0)
    for (const u of values) deciles[Math.floor(u * 10)]++
    for (const count of deciles) expect(Math.abs(count / values.length - 0.1)).toBeLessThan(0.01)
  })

  it('rejects seeds and positions outside their encodings', () => {
    expect(() => samplingUniform(2 ** 60, 0)).toThrow(RangeError)
    expect(() => samplingUniform(1.5, 0)).toThrow(RangeError)
    expect(() => samplingUniform(1, -1)).toThrow(RangeError)
    expect(() => samplingUniform(1, 2 ** 32)).toThrow(RangeError)
  })
})

describe('topCandidates', () => {
  it('orders by logit, breaks ties by the lower token id, drops non-finite logits and keeps k', () => {
    const list = [{ token: 9, logit: 1 }, { token: 3, logit: 2 }, { token: 5, logit: 2 }, { token: 1, logit: Number.NaN }, { token: 2, logit: -Infinity }, { token: 4, logit: 0 }]
    expect(topCandidates(list, 3).map(c => c.token)).toEqual([3, 5, 9])
    expect(topCandidates(list).map(c => c.token)).toEqual([3, 5, 9, 4])
  })
})

describe('dria-1 selection', () => {
  const list = candidates([2, 1, 0, -1])

  it('is greedy at temperature 0 whatever u is', () => {
    for (const u of [0, 0.5, 0.999]) expect(driaSelect(list, { temperature: 0, topP: 1 }, u)).toBe(0)
  })

  it('picks the first candidate whose cumulative weight exceeds u', () => {
    const { weights, kept, keptWeight } = driaWeights(list, { temperature: 1, topP: 1 })
    expect(weights).toEqual([1, Math.exp(-1), Math.exp(-2), Math.exp(-3)])
    expect(kept).toBe(4)
    const first = weights[0] / keptWeight
    const second = (weights[0] + weights[1]) / keptWeight
    expect(driaSelect(list, { temperature: 1, topP: 1 }, 0)).toBe(0)
    expect(driaSelect(list, { temperature: 1, topP: 1 }, first - 1e-12)).toBe(0)
    // u equal to a boundary selects the next candidate: strictly greater is required.
    expect(driaSelect(list, { temperature: 1, topP: 1 }, first)).toBe(1)
    expect(driaSelect(list, { temperature: 1, topP: 1 }, second - 1e-12)).toBe(1)
    expect(driaSelect(list, { temperature: 1, topP: 1 }, 0.999999)).toBe(3)
  })

  it('keeps the shortest prefix reaching top_p of the weight, at least one candidate', () => {
    const sampling = { temperature: 1, topP: 0.8 }
    const { weights, kept } = driaWeights(list, sampling)
    const total = weights.reduce((a, b) => a + b, 0)
    expect(weights[0] / total).toBeLessThan(0.8)
    expect((weights[0] + weights[1]) / total).toBeGreaterThanOrEqual(0.8)
    expect(kept).toBe(2)
    expect(driaSelect(list, sampling, 0.999999)).toBe(1)
    expect(driaWeights(list, { temperature: 1, topP: 0 }).kept).toBe(1)
  })

  it('sharpens with lower temperatures', () => {
    expect(driaWeights(list, { temperature: 0.5, topP: 1 }).weights[1]).toBeCloseTo(Math.exp(-2))
  })

  it('draws each candidate about as often as its probability across positions', () => {
    const sampling = { temperature: 1, topP: 1 }
    const { weights, keptWeight } = driaWeights(list, sampling)
    const counts = [0, 0, 0, 0]
    const draws = 20_000
    for (let position = 0; position < draws; position++) counts[list.indexOf(driaSample(list, sampling, 5, position))]++
    for (const [j, count] of counts.entries()) expect(Math.abs(count / draws - weights[j] / keptWeight)).toBeLessThan(0.01)
  })
})
