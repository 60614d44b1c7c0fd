import { modelKindOf } from '@dria/protocol'
import type { ModelCapacity } from '@dria/protocol'
import type { ServedModel } from '../engine/index.js'

/**
 * How the node describes its models to the network (capacity record and session hello):
 * digests identify the exact weights; `vision`/`audio` say what media the model reads (as
 * its engine reports); `score` says it can verify other nodes' results.
 */
export function modelCapacities (models: ServedModel[], options: { canScore: boolean }): ModelCapacity[] {
  return models.map(({ info, tokensPerSecond }) => ({
    name: info.name,
    digest: info.digest,
    kind: modelKindOf(info.kind),
    tokensPerSecond,
    contextLength: info.contextLength ?? 0,
    capabilities: [info.kind === 'embedding' ? 'embedding' : 'completion', ...(info.media ?? []), ...(options.canScore ? ['score'] : [])]
  }))
}
