import type { TrustLevel } from './trust.js'

/** What model identity needs to know about a live node. */
export interface ServingNode {
  id: string
  models: ReadonlyMap<string, { digest: string }>
}

export interface ModelIdentityComponents {
  /** Live nodes. */
  nodes: () => Iterable<ServingNode>
  level: (peerId: string) => TrustLevel
}

export interface ModelIdentityInit {
  /** Accepted digests per model name (`--model-digests`); a name listed here accepts nothing else. */
  digests?: Record<string, string[]>
}

export interface ModelIdentity {
  /** Digests a node may serve `model` with and get work. */
  accepted(model: string): string[]
  accepts(model: string, digest: string): boolean
  /** Drops cached answers: nodes changed. (Trust changes are picked up within a second anyway.) */
  invalidate(): void
}

/** Answers are recomputed at least this often, so a node's promotion counts soon. */
const CACHE_MS = 1_000

/**
 * Which weights count as `model`. A name is only a label anyone can claim, so the digest
 * decides: the configured digests when the operator gave some; otherwise the digests that
 * operator-run (allowlisted) or trusted nodes serve; with neither, the digest most live nodes
 * serve. A node advertising another digest under the name gets no work for it.
 */
export function createModelIdentity (components: ModelIdentityComponents, init: ModelIdentityInit = {}): ModelIdentity {
  const configured = new Map(Object.entries(init.digests ?? {}))
  const cache = new Map<string, Set<string>>()
  let cachedAt = 0

  function compute (model: string): Set<string> {
    const fixed = configured.get(model)
    if (fixed !== undefined) return new Set(fixed)
    const vouched = new Set<string>()
    const counts = new Map<string, number>()
    for (const node of components.nodes()) {
      const digest = node.models.get(model)?.digest
      if (digest === undefined) continue
      const level = components.level(node.id)
      if (level === 'quarantined') continue
      if (level === 'allowlisted' || level === 'trusted') vouched.add(digest)
      counts.set(digest, (counts.get(digest) ?? 0) + 1)
    }
    if (vouched.size > 0) return vouched
    const most = Math.max(0, ...counts.values())
    return new Set([...counts].filter(([, count]) => count === most).map(([digest]) => digest))
  }

  function acceptedSet (model: string): Set<string> {
    if (Date.now() - cachedAt > CACHE_MS) {
      cache.clear()
      cachedAt = Date.now()
    }
    let found = cache.get(model)
    if (found === undefined) {
      found = compute(model)
      cache.set(model, found)
    }
    return found
  }

  return {
    accepted: model => [...acceptedSet(model)],
    accepts: (model, digest) => acceptedSet(model).has(digest),
    invalidate: () => { cache.clear() }
  }
}
