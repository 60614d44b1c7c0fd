import { ModelKind } from '../generated/dria.js'
import type { ModelKindName } from './types.js'

/** Wire enum ↔ the name used in APIs and engines. */
export function modelKindName (kind: ModelKind): ModelKindName {
  return kind === ModelKind.MODEL_KIND_EMBEDDING ? 'embedding' : 'chat'
}

export function modelKindOf (name: ModelKindName): ModelKind {
  return name === 'embedding' ? ModelKind.MODEL_KIND_EMBEDDING : ModelKind.MODEL_KIND_CHAT
}
