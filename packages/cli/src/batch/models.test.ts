import { describe, expect, it } from 'vitest'
import type { ModelObject } from '../client/index.js'
import { createModelSelector } from './models.js'

const model = (id: string, nodes: number, capabilities: string[] = ['completion'], kind: 'chat' | 'embedding' = 'chat'): ModelObject => ({ id, kind, nodes, capabilities })
const none = new Set<string>()

async function selector (models: ModelObject[], name?: string): Promise<ReturnType<typeof createModelSelector>> {
  const selected = createModelSelector({ fetchModels: async () => models }, { model: name, refreshMs: Number.POSITIVE_INFINITY })
  await selected.refresh()
  return selected
}

describe('model selection', () => {
  it('spreads text lines over chat models in proportion to their nodes', async () => {
    const pick = await selector([model('big', 3), model('small', 1), model('embed', 5, ['embedding'], 'embedding'), model('gone', 0)])
    const counts = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const chosen = pick.pick(undefined, none) as string
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1)
    }
    expect(Object.fromEntries(counts)).toEqual({ big: 300, small: 100 })
  })

  it('sends images and audio only to models that read them', async () => {
    const pick = await selector([model('text', 5), model('eyes', 1, ['completion', 'vision']), model('ears', 1, ['completion', 'audio'])])
    for (let i = 0; i < 10; i++) expect(pick.pick('vision', none)).toBe('eyes')
    expect(pick.pick('audio', none)).toBe('ears')
    expect(pick.pick('vision', new Set(['eyes']))).toEqual({ reason: 'none_served' })
    expect(pick.servable('vision')).toBe(true)
    const blind = await selector([model('text', 5)])
    expect(blind.pick('vision', none)).toEqual({ reason: 'none_served' })
    expect(blind.servable('vision')).toBe(false)
  })

  it('falls back: skips models tried for the line, and prefers those that have not just answered 503', async () => {
    const pick = await selector([model('a', 2), model('b', 1)])
    expect(pick.pick(undefined, new Set(['a']))).toBe('b')
    pick.unavailable('a')
    for (let i = 0; i < 5; i++) expect(pick.pick(undefined, none)).toBe('b')
    pick.unavailable('b')
    // Everything answered 503 lately: all are candidates again.
    expect(['a', 'b']).toContain(pick.pick(undefined, none))
    await pick.refresh()
    expect(pick.pick(undefined, new Set(['b']))).toBe('a')
  })

  it('with -m: always that model, unless it is known not to read the attachment', async () => {
    const pick = await selector([model('text', 2), model('eyes', 1, ['completion', 'vision'])], 'text')
    expect(pick.pick(undefined, new Set(['text']))).toBe('text')
    expect(pick.pick('vision', none)).toEqual({ reason: 'unsupported', model: 'text' })
    expect((await selector([], 'later')).pick('vision', none)).toBe('later')
  })
})
