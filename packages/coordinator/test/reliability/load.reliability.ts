import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { percentile, runConcurrently } from '@dria/testkit'
import { MODEL, jsonl, sleep } from '../harness.js'
import { printResults, startCluster } from './cluster.js'
import type { Cluster, ResultRow } from './cluster.js'

/**
 * Races and load against one real coordinator with two nodes: simultaneous creates against a
 * plan limit, simultaneous complete_upload calls for one file, simultaneous uploads against the
 * daily quota and PUTs to one URL; then 500 batches with 100 clients polling them.
 */

const KEY = 'sk-load'
const ADMIN = 'admin-load-token'
const CHAT = '/v1/chat/completions'
const BATCHES = 500
const POLLERS = 100
const PLAN_BATCHES = 3
const PLAN_FILES = 3

type Batch = { id: string, status: string, input_file_id: string, request_counts: { total: number, completed: number, failed: number }, output_file_id: string | null, error_file_id: string | null }

const line = (id: string, maxTokens: number): Record<string, unknown> =>
  ({ custom_id: id, method: 'POST', url: CHAT, body: { model: MODEL, messages: [{ role: 'user', content: `Once upon a time ${id}` }], max_tokens: maxTokens } })

describe('races and load', () => {
  let cluster: Cluster
  const rows: ResultRow[] = []

  beforeAll(async () => {
    cluster = await startCluster({
      apiKeys: [KEY],
      nodes: 2,
      slots: 4,
      args: ['--plans', JSON.stringify({ free: { concurrentBatches: PLAN_BATCHES, filesPerDay: PLAN_FILES }, developer: { concurrentBatches: PLAN_BATCHES, filesPerDay: 100 } })],
      env: { DRIA_ADMIN_TOKEN: ADMIN }
    })
  }, 120_000)

  afterAll(async () => {
    printResults('races and load', rows)
    await cluster?.stop()
  })

  const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })
  async function newKey (plan: string): Promise<string> {
    const answer = await fetch(`${cluster.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: plan, plan }) })
    return (await answer.json() as { key: string }).key
  }
  async function upload (key: string, text: string): Promise<Response> {
    const form = new FormData()
    form.append('purpose', 'batch')
    form.append('file', new Blob([text]), 'input.jsonl')
    return await fetch(`${cluster.url}/v1/files`, { method: 'POST', headers: auth(key), body: form })
  }
  const create = async (key: string, fileId: string): Promise<Response> => await fetch(`${cluster.url}/v1/batches`, {
    method: 'POST', headers: { ...auth(key), 'content-type': 'application/json' }, body: JSON.stringify({ input_file_id: fileId, endpoint: CHAT, completion_window: '24h' })
  })
  const get = async (key: string, id: string): Promise<Batch> => await (await fetch(`${cluster.url}/v1/batches/${id}`, { headers: auth(key) })).json() as Batch
  async function final (key: string, id: string): Promise<Batch> {
    for (;;) {
      const b = await get(key, id)
      if (['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) return b
      await sleep(100)
    }
  }
  async function ids (key: string, fileId: string | null): Promise<string[]> {
    if (fileId === null) return []
    const text = await (await fetch(`${cluster.url}/v1/files/${fileId}/content`, { headers: auth(key) })).text()
    return text.split('\n').filter(l => l !== '').map(l => (JSON.parse(l) as { custom_id: string }).custom_id)
  }

  it(`lets exactly ${PLAN_BATCHES} of 20 simultaneous creates through a ${PLAN_BATCHES}-batch plan`, async () => {
    const key = await newKey('developer')
    const file = await (await upload(key, jsonl(Array.from({ length: 16 }, (_, i) => line(`q-${i}`, 48))))).json() as { id: string }
    const answers = await Promise.all(Array.from({ length: 20 }, async () => await create(key, file.id)))
    const accepted = answers.filter(a => a.status === 200)
    const refused = answers.filter(a => a.status === 429)
    const codes = await Promise.all(refused.map(async a => (await a.json() as { error: { code: string } }).error.code))
    rows.push({ area: 'race', scenario: `20 simultaneous creates, plan of ${PLAN_BATCHES} unfinished batches`, runs: 20, checked: `${accepted.length} accepted, ${refused.length} × 429`, lost: 0 })
    expect(accepted).toHaveLength(PLAN_BATCHES)
    expect(refused).toHaveLength(20 - PLAN_BATCHES)
    expect(new Set(codes)).toEqual(new Set(['too_many_batches']))
    expect(refused.every(a => Number(a.headers.get('retry-after')) > 0)).toBe(true)
    for (const answer of accepted) expect((await final(key, (await answer.json() as Batch).id)).status).toBe('completed')
  })

  it('starts exactly one batch for 8 simultaneous complete_upload calls on one file', async () => {
    const key = await newKey('developer')
    const { url, id } = await (await fetch(`${cluster.url}/api/v0/file/get_upload_url`, { headers: auth(key) })).json() as { url: string, id: string }
    expect((await fetch(url, { method: 'PUT', body: jsonl([line('c-0', 4), line('c-1', 4)]) })).status).toBe(200)
    const answers = await Promise.all(Array.from({ length: 8 }, async () => await fetch(`${cluster.url}/api/v0/batch/complete_upload`, {
      method: 'POST', headers: { ...auth(key), 'content-type': 'application/json' }, body: JSON.stringify({ id, model: MODEL })
    })))
    const statuses = answers.map(a => a.status).sort()
    const listed = (await (await fetch(`${cluster.url}/v1/batches?limit=100`, { headers: auth(key) })).json() as { data: Batch[] }).data.filter(b => b.input_file_id === id)
    rows.push({ area: 'race', scenario: '8 simultaneous complete_upload for one file', runs: 8, checked: `${listed.length} batch started, ${statuses.filter(s => s === 409).length} × 409`, lost: 0 })
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409])
    expect(listed).toHaveLength(1)
    expect((await final(key, listed[0].id)).status).toBe('completed')
  })

  it(`lets exactly ${PLAN_FILES} of 10 simultaneous uploads through a ${PLAN_FILES}-files-a-day plan, and one of 5 PUTs to one URL`, async () => {
    const key = await newKey('free')
    const answers = await Promise.all(Array.from({ length: 10 }, async (_, i) => await upload(key, jsonl([line(`u-${i}`, 4)]))))
    const statuses = answers.map(a => a.status)
    expect(statuses.filter(s => s === 200)).toHaveLength(PLAN_FILES)
    expect(statuses.filter(s => s === 429)).toHaveLength(10 - PLAN_FILES)

    const other = await newKey('developer')
    const { url } = await (await fetch(`${cluster.url}/api/v0/file/get_upload_url`, { headers: auth(other) })).json() as { url: string }
    const puts = await Promise.all(Array.from({ length: 5 }, async () => await fetch(url, { method: 'PUT', body: jsonl([line('p', 4)]) })))
    const putStatuses = puts.map(p => p.status).sort()
    rows.push({ area: 'race', scenario: `10 simultaneous uploads, plan of ${PLAN_FILES} files a day; 5 PUTs to one URL`, runs: 15, checked: `${PLAN_FILES} uploads stored; ${putStatuses.filter(s => s === 200).length} PUT stored`, lost: 0 })
    expect(putStatuses).toEqual([200, 404, 404, 404, 404])
  })

  it(`runs ${BATCHES} batches while ${POLLERS} clients poll them: nothing lost, p99 latency and RSS recorded`, async () => {
    const started = performance.now()
    const createLatency: number[] = []
    const batchIds = await runConcurrently(BATCHES, 20, async (i) => {
      const t = performance.now()
      const file = await (await upload(KEY, jsonl([line(`b${i}-0`, 4), line(`b${i}-1`, 4)]))).json() as { id: string }
      const answer = await create(KEY, file.id)
      createLatency.push(performance.now() - t)
      expect(answer.status).toBe(200)
      return (await answer.json() as Batch).id
    })
    const pollLatency: number[] = []
    const finished = new Set<string>()
    await Promise.all(Array.from({ length: POLLERS }, async (_, p) => {
      for (let n = p; finished.size < BATCHES; n += POLLERS) {
        const id = batchIds[n % BATCHES]
        const t = performance.now()
        const b = await get(KEY, id)
        pollLatency.push(performance.now() - t)
        if (['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) finished.add(id)
      }
    }))
    const seconds = (performance.now() - started) / 1000
    let missing = 0
    for (const [i, id] of batchIds.entries()) {
      const b = await get(KEY, id)
      expect(b.status, JSON.stringify(b.errors)).toBe('completed')
      const seen = [...await ids(KEY, b.output_file_id), ...await ids(KEY, b.error_file_id)].sort()
      if (JSON.stringify(seen) !== JSON.stringify([`b${i}-0`, `b${i}-1`])) missing++
    }
    const rss = await cluster.peakRssMb()
    rows.push({
      area: 'load',
      scenario: `${BATCHES} batches × 2 lines, ${POLLERS} pollers`,
      runs: pollLatency.length,
      checked: `all completed in ${seconds.toFixed(0)} s; poll p50 ${percentile(pollLatency, 50).toFixed(0)} ms, p99 ${percentile(pollLatency, 99).toFixed(0)} ms; upload+create p99 ${percentile(createLatency, 99).toFixed(0)} ms; coordinator peak RSS ${rss.toFixed(0)} MB`,
      lost: missing
    })
    expect(missing).toBe(0)
  })
})
