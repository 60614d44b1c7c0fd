import { describe, expect, it } from 'vitest'
import { ModelKind } from '@dria/protocol'
import { modelCapacities } from './model-capacity.js'

describe('modelCapacities', () => {
  it('advertises what each model does and the media it reads', () => {
    const capacities = modelCapacities([
      { info: { name: 'text', digest: 'sha256:a', kind: 'chat', contextLength: 512 }, tokensPerSecond: 100 },
      { info: { name: 'eyes', digest: 'sha256:b', kind: 'chat', media: ['vision'] }, tokensPerSecond: 50 },
      { info: { name: 'embed', digest: 'sha256:c', kind: 'embedding' }, tokensPerSecond: 0 }
    ], { canScore: true })
    expect(capacities.map(c => [c.name, c.capabilities])).toEqual([
      ['text', ['completion', 'score']],
      ['eyes', ['completion', 'vision', 'score']],
      ['embed', ['embedding', 'score']]
    ])
    expect(capacities[0]).toMatchObject({ kind: ModelKind.MODEL_KIND_CHAT, contextLength: 512, tokensPerSecond: 100 })
    expect(modelCapacities([{ info: { name: 'eyes', digest: 'sha256:b', kind: 'chat', media: ['vision'] }, tokensPerSecond: 1 }], { canScore: false })[0].capabilities).toEqual(['completion', 'vision'])
  })
})
