import type pg from 'pg'
import { newApiKey } from '../../accounts/key-store.js'
import type { ApiKeyRecord, KeyStore } from '../../accounts/key-store.js'
import type { PlanName } from '../../accounts/plans.js'
import { newId } from '../../ids.js'
import type { KnownPeer, PeerBook, PeerTrustRecord, TrustBook } from '../interfaces.js'

export class PostgresKeyStore implements KeyStore {
  readonly #pool: pg.Pool

  constructor (pool: pg.Pool) {
    this.#pool = pool
  }

  async staticOwner (hash: string): Promise<{ owner: string, created: boolean }> {
    // Two coordinators may see a static key first at the same moment: one insert wins.
    const inserted = await this.#pool.query<{ owner: string }>('INSERT INTO static_key_owners (hash, owner) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING RETURNING owner', [hash, newId('key_')])
    if (inserted.rows.length > 0) return { owner: inserted.rows[0].owner, created: true }
    const { rows } = await this.#pool.query<{ owner: string }>('SELECT owner FROM static_key_owners WHERE hash = $1', [hash])
    return { owner: rows[0].owner, created: false }
  }

  async rehash (record: ApiKeyRecord, hash: string): Promise<ApiKeyRecord> {
    const next = { ...record, hash }
    await this.#pool.query('UPDATE api_keys SET hash = $2, data = $3 WHERE id = $1', [record.id, hash, JSON.stringify(next)])
    return next
  }

  async create (name: string, plan: PlanName, hash: (key: string) => string): Promise<{ record: ApiKeyRecord, key: string }> {
    const created = newApiKey(name, plan, hash)
    await this.#pool.query('INSERT INTO api_keys (id, hash, data) VALUES ($1, $2, $3)', [created.record.id, created.record.hash, JSON.stringify(created.record)])
    return created
  }

  async findByHash (hash: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#pool.query<{ data: ApiKeyRecord }>('SELECT data FROM api_keys WHERE hash = $1', [hash])
    return rows[0]?.data
  }

  async list (): Promise<ApiKeyRecord[]> {
    const { rows } = await this.#pool.query<{ data: ApiKeyRecord }>('SELECT data FROM api_keys ORDER BY id')
    return rows.map(r => r.data)
  }

  async revoke (id: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#pool.query<{ data: ApiKeyRecord }>('DELETE FROM api_keys WHERE id = $1 RETURNING data', [id])
    return rows[0]?.data
  }
}

export class PostgresPeerBook implements PeerBook {
  readonly #pool: pg.Pool

  constructor (pool: pg.Pool) {
    this.#pool = pool
  }

  async all (): Promise<KnownPeer[]> {
    const { rows } = await this.#pool.query<{ data: KnownPeer }>('SELECT data FROM known_peers ORDER BY id')
    return rows.map(r => r.data)
  }

  async remember (peer: KnownPeer): Promise<void> {
    await this.#pool.query('INSERT INTO known_peers (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data = excluded.data', [peer.id, JSON.stringify(peer)])
  }

  async forget (id: string): Promise<void> {
    await this.#pool.query('DELETE FROM known_peers WHERE id = $1', [id])
  }
}

export class PostgresTrustBook implements TrustBook {
  readonly #pool: pg.Pool

  constructor (pool: pg.Pool) {
    this.#pool = pool
  }

  async all (): Promise<PeerTrustRecord[]> {
    const { rows } = await this.#pool.query<{ data: PeerTrustRecord }>('SELECT data FROM trust ORDER BY peer_id')
    return rows.map(r => r.data)
  }

  async putMany (records: PeerTrustRecord[]): Promise<void> {
    // One upsert may not touch a row twice: the last record of an identity wins, as in a batch.
    const latest = [...new Map(records.map(r => [r.peerId, r])).values()]
    if (latest.length === 0) return
    await this.#pool.query(
      `INSERT INTO trust (peer_id, data) SELECT * FROM unnest($1::text[], $2::json[])
       ON CONFLICT (peer_id) DO UPDATE SET data = CASE
         -- Another coordinator's quarantine stands: a record written from older knowledge never lifts it.
         WHEN trust.data->>'level' = 'quarantined' AND excluded.data->>'level' <> 'quarantined' THEN trust.data
         ELSE excluded.data END`,
      [latest.map(r => r.peerId), latest.map(r => JSON.stringify(r))])
  }
}
