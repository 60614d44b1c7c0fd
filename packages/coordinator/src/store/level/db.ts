import type { AbstractBatchOperation, AbstractSublevel } from 'abstract-level'
import type { Level } from 'level'

export type Db = Level<string, unknown>
export type Sublevel<V> = AbstractSublevel<Db, string | Buffer | Uint8Array, string, V>
export type BatchOp = AbstractBatchOperation<Db, string, unknown>
