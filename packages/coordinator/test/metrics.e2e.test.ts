import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT, startCoordinatorProcess, startNodeProcess, tempDir } from '@dria/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'
import { MODEL, MODELS_DIR, createBatch, openaiClient, requestLines, waitForBatch, waitForNodes } from './harness.js'

/** The value of one Prometheus sample, e.g. `dria_node_tasks_total{outcome="completed"}`; undefined when absent. */
function sample (text: string, name: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

async function scrape (url: string): Promise<string> {
  const response = await fetch(url)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toContain('text/plain')
  return await response.text()
}

describe('Prometheus metrics of a coordinator and a node', () => {
  let coordinator: CoordinatorProcess
  let node: NodeProcess
  let nodeMetrics: string
  let dir: { path: string, remove: () => Promise<void> }
  const key = 'sk-metrics'

  beforeAll(async () => {
    dir = await tempDir('dria-metrics-')
    // One node: nobody could check its results, so they are accepted unchecked.
    coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [key], args: ['--accept-unverified'] })
    node = await startNodeProcess({
      dataDir: join(dir.path, 'node'),
      bootstrap: coordinator.multiaddrs,
      args: ['--models-dir', MODELS_DIR, '--models', MODEL, '--slots', '1', '--metrics-port', '0']
    })
    nodeMetrics = (await node.waitFor('metrics listening')).url as string
  })

  afterAll(async () => {
    await Promise.all([node?.stop(), coordinator?.stop()])
    await dir?.remove()
  })

  it('counts tasks, tokens and latency by model on both sides, and cancelled lines apart from failed', async () => {
    const openai = openaiClient(coordinator.url, key)
    await waitForNodes(openai, 1)
    const done = await waitForBatch(openai, (await createBatch(openai, requestLines(6, '/v1/chat/completions', i => ({ messages: [{ role: 'user', content: `Story ${i}` }], max_tokens: 12 })))).id)
    expect(done.status, JSON.stringify(done.errors)).toBe('completed')

    const long = await createBatch(openai, requestLines(200, '/v1/chat/completions', i => ({ messages: [{ role: 'user', content: `Tale ${i}` }], max_tokens: 48 }), 'long'))
    await waitForBatch(openai, long.id, { until: b => (b.request_counts?.completed ?? 0) > 0 })
    const queued = await scrape(`${coordinator.url}/metrics`)
    expect(sample(queued, `dria_batch_queued_lines{model="${MODEL}"}`)).toBeGreaterThan(0)
    await openai.batches.cancel(long.id)
    const cancelled = await waitForBatch(openai, long.id)
    expect(cancelled.status).toBe('cancelled')

    const text = await scrape(`${coordinator.url}/metrics`)
    const completed = 6 + (cancelled.request_counts?.completed ?? 0)
    const usage = (done.usage?.output_tokens ?? 0) + (cancelled.usage?.output_tokens ?? 0)
    expect(sample(text, 'dria_batch_lines_settled_total{state="completed"}')).toBe(completed)
    expect(sample(text, 'dria_batch_lines_settled_total{state="cancelled"}')).toBe(cancelled.request_counts?.failed)
    expect(sample(text, 'dria_batch_lines_settled_total{state="failed"}')).toBeUndefined()
    expect(sample(text, `dria_batch_output_tokens_total{model="${MODEL}"}`)).toBe(usage)
    expect(sample(text, `dria_batch_input_tokens_total{model="${MODEL}"}`)).toBeGreaterThan(0)
    expect(sample(text, 'dria_verification_accepted_total')).toBe(completed)
    expect(sample(text, `dria_task_duration_seconds_count{model="${MODEL}",outcome="result"}`)).toBeGreaterThanOrEqual(completed)
    expect(sample(text, 'dria_network_nodes_by_state{state="new"}')).toBe(1)
    expect(sample(text, 'dria_network_nodes_by_state{state="quarantined"}')).toBe(0)
    expect(sample(text, `dria_batch_queued_lines{model="${MODEL}"}`) ?? 0).toBe(0)
    expect(sample(text, 'dria_http_requests_total{method="POST",route="/v1/batches",status_code="200"}')).toBe(2)
    // Labels stay bounded: no batch or file ids anywhere.
    expect(text).not.toMatch(/batch_[A-Za-z0-9]{10}|file-[A-Za-z0-9]{10}/)

    const nodeText = await scrape(nodeMetrics)
    expect(sample(nodeText, 'dria_node_tasks_total{outcome="completed"}')).toBeGreaterThanOrEqual(completed)
    expect(sample(nodeText, `dria_node_output_tokens_total{model="${MODEL}"}`)).toBeGreaterThanOrEqual(usage)
    expect(sample(nodeText, `dria_node_engine_duration_seconds_count{model="${MODEL}"}`)).toBeGreaterThanOrEqual(completed)
    expect(sample(nodeText, `dria_node_model_tokens_per_second{model="${MODEL}"}`)).toBeGreaterThan(0)
    expect(sample(nodeText, 'dria_node_slots')).toBe(1)
    expect(sample(nodeText, 'dria_node_slots_busy')).toBeGreaterThanOrEqual(0)
    // libp2p's own metrics, from @libp2p/prometheus-metrics.
    expect(nodeText).toMatch(/^libp2p_connection_manager_connections\{/m)
    expect((await fetch(nodeMetrics.replace('/metrics', '/other'))).status).toBe(404)

    // Every metric the provisioned Grafana dashboard queries exists in one of the two scrapes.
    const dashboard = JSON.parse(await readFile(join(REPO_ROOT, 'docker/grafana/dashboards/dria-network.json'), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
    const queried = new Set(dashboard.panels.flatMap(p => p.targets ?? []).flatMap(t => t.expr.match(/\b(?:dria|libp2p|process)_[a-z_]+/g) ?? []))
    expect(queried.size).toBeGreaterThan(15)
    for (const name of queried) {
      const family = name.replace(/_(bucket|count|sum)$/, '')
      expect(`${text}\n${nodeText}`, name).toMatch(new RegExp(`^# TYPE ${family} `, 'm'))
    }
  })
})
