import type { MediaCapability } from '@dria/protocol'
import type { ModelObject } from '../client/index.js'
import { AUTO_MODEL, MODELS_REFRESH_MS } from '../constants.js'

export interface ModelSelectorComponents {
  /** The coordinator's models with their node counts and capabilities (`/v1/models`). */
  fetchModels: () => Promise<ModelObject[]>
}

export interface ModelSelectorInit {
  /** A model name, or `auto` (default). */
  model?: string
  /** How often the models are fetched again. Default 5 s. */
  refreshMs?: number
}

/** Why no model could be picked: none is served for what the line needs, or the named one cannot read it. */
export type NoModel = { reason: 'none_served' } | { reason: 'unsupported', model: string }

export interface ModelSelector {
  /** Fetches the models (errors propagate: the coordinator cannot be reached, the key is wrong). */
  refresh(): Promise<void>
  /**
   * The model for a line needing `media` (undefined: text only), skipping those `tried` for
   * it. Auto selection spreads lines over suitable models in proportion to their nodes and
   * prefers models that have not just answered 503.
   */
  pick(media: MediaCapability | undefined, tried: ReadonlySet<string>): string | NoModel
  /** `model` answered 503 (no node has room or serves it now): others go first until the next refresh. */
  unavailable(model: string): void
  /** Whether any model is served that could take a line needing `media`. */
  servable(media: MediaCapability | undefined): boolean
}

function suits (model: ModelObject, media: MediaCapability | undefined): boolean {
  return model.kind === 'chat' && model.nodes > 0 && (media === undefined || model.capabilities.includes(media))
}

/** Picks models by node availability and capability, refreshing the picture as the run goes. */
export function createModelSelector (components: ModelSelectorComponents, init: ModelSelectorInit = {}): ModelSelector {
  const fixed = init.model !== undefined && init.model !== AUTO_MODEL ? init.model : undefined
  const refreshMs = init.refreshMs ?? MODELS_REFRESH_MS
  let models: ModelObject[] = []
  let fetchedAt = 0
  let refreshing: Promise<void> | undefined
  const down = new Set<string>()
  /** Smooth weighted round-robin state: spreads picks in proportion to node counts. */
  const credit = new Map<string, number>()

  async function refresh (): Promise<void> {
    refreshing ??= components.fetchModels().then(list => {
      models = list
      fetchedAt = Date.now()
      down.clear()
    }).finally(() => { refreshing = undefined })
    await refreshing
  }

  function refreshIfStale (): void {
    // A failed background refresh keeps the last picture; the lines' own requests report errors.
    if (Date.now() - fetchedAt > refreshMs) refresh().catch(() => {})
  }

  function weighted (candidates: ModelObject[]): string {
    let total = 0
    let best: ModelObject | undefined
    for (const model of candidates) {
      total += model.nodes
      credit.set(model.id, (credit.get(model.id) ?? 0) + model.nodes)
      if (best === undefined || credit.get(model.id)! > credit.get(best.id)!) best = model
    }
    credit.set(best!.id, credit.get(best!.id)! - total)
    return best!.id
  }

  return {
    refresh,
    pick (media, tried) {
      refreshIfStale()
      if (fixed !== undefined) {
        const known = models.find(m => m.id === fixed)
        // A model no node serves now is still asked: the coordinator answers 503 and the line retries.
        if (media !== undefined && known !== undefined && known.nodes > 0 && !known.capabilities.includes(media)) return { reason: 'unsupported', model: fixed }
        return fixed
      }
      const candidates = models.filter(m => suits(m, media) && !tried.has(m.id))
      if (candidates.length === 0) return { reason: 'none_served' }
      const up = candidates.filter(m => !down.has(m.id))
      return weighted(up.length > 0 ? up : candidates)
    },
    unavailable (model) {
      down.add(model)
    },
    servable (media) {
      return fixed !== undefined || models.some(m => suits(m, media))
    }
  }
}
