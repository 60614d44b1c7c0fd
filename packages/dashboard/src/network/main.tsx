import { render } from 'preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { TimeChart } from '../components/chart'
import { ErrorNote, Header, StreamBadge } from '../components/header'
import { api } from '../lib/api'
import { openEventStream } from '../lib/events'
import type { StreamState } from '../lib/events'
import { formatDuration, formatInt, formatRate, shortDigest, shortId } from '../lib/format'
import type { HistoryPoint, ModelStatus, NetworkStats, NodeStatus } from './types'
import '../styles.css'

const MAX_POINTS = 720

const THROUGHPUT = [{ label: 'output tokens/s', color: '#2563eb' }, { label: 'results/s', color: '#16a34a' }]
const VERIFICATION = [
  { label: 'accepted', color: '#16a34a' },
  { label: 'refused', color: '#dc2626' },
  { label: 'audits agreed', color: '#0891b2' },
  { label: 'audits caught', color: '#9333ea' }
]

function Dashboard () {
  const [stats, setStats] = useState<NetworkStats>()
  const [nodes, setNodes] = useState<NodeStatus[]>([])
  const [points, setPoints] = useState<HistoryPoint[]>([])
  const [interval, setIntervalSeconds] = useState(5)
  const [state, setState] = useState<StreamState>('connecting')
  const [error, setError] = useState<unknown>()

  useEffect(() => openEventStream({
    onState: setState,
    onEvent: (type, data) => {
      if (type === 'hello') {
        // The history comes once from the JSON API; the stream then adds each new point.
        api<NetworkStats>('/api/v0/network/stats').then(full => {
          setPoints(full.history?.points ?? [])
          setIntervalSeconds(full.history?.interval_seconds ?? 5)
          setError(undefined)
        }, setError)
      }
      if (type === 'network.stats') setStats(data as NetworkStats)
      if (type === 'network.nodes') setNodes(data as NodeStatus[])
      if (type === 'network.sample') setPoints(previous => [...previous, data as HistoryPoint].slice(-MAX_POINTS))
    }
  }), [])

  const throughput = useMemo<uPlot.AlignedData>(() => [
    points.map(p => p.at),
    points.map(p => p.output_tokens / interval),
    points.map(p => p.tasks / interval)
  ], [points, interval])
  const verification = useMemo<uPlot.AlignedData>(() => [
    points.map(p => p.at),
    points.map(p => p.tasks),
    points.map(p => p.refused),
    points.map(p => p.audits_agreed),
    points.map(p => p.audits_caught)
  ], [points])

  return (
    <>
      <Header page="network"><StreamBadge state={state} /></Header>
      <main>
        <ErrorNote error={error} />
        <Summary stats={stats} />
        <div class="charts">
          <TimeChart title="Throughput" series={THROUGHPUT} data={throughput} />
          <TimeChart title={`Verification outcomes per ${interval} s`} series={VERIFICATION} data={verification} />
        </div>
        <Models models={stats?.models ?? []} queue={stats?.queue} />
        <Nodes nodes={nodes} />
      </main>
    </>
  )
}

function Summary (props: { stats: NetworkStats | undefined }) {
  const { stats } = props
  const tile = (label: string, value: string, testid: string) => (
    <div class="tile"><div class="tile-value" data-testid={testid}>{value}</div><div class="tile-label">{label}</div></div>
  )
  if (stats === undefined) return <p class="muted">Connecting to the network…</p>
  const trust = stats.nodes.by_trust
  return (
    <section class="tiles">
      {tile('live nodes', formatInt(stats.nodes.live), 'nodes-live')}
      {tile('trusted · new · quarantined', `${trust.trusted ?? 0} · ${trust.new ?? 0} · ${trust.quarantined ?? 0}`, 'nodes-trust')}
      {tile('slots busy', `${formatInt(stats.slots.in_flight)} / ${formatInt(stats.slots.advertised)}`, 'slots')}
      {tile('output tokens/s', formatRate(stats.throughput.tokens_per_second), 'tokens-per-second')}
      {tile('queued lines', formatInt(stats.queue.depth), 'queue-depth')}
      {tile('results verified', formatInt(stats.verification.accepted), 'verified')}
    </section>
  )
}

function Models (props: { models: ModelStatus[], queue: NetworkStats['queue'] | undefined }) {
  return (
    <section class="card">
      <h2>Models</h2>
      {props.models.length === 0
        ? <p class="muted">No node serves a model right now.</p>
        : (
          <table class="responsive" data-testid="models">
            <thead><tr><th>Model</th><th>Kind</th><th>Nodes</th><th>Digests</th><th>Slots busy</th><th>Tokens/s (advertised)</th><th>Queued lines</th></tr></thead>
            <tbody>
              {props.models.map(m => (
                <tr key={m.name} data-model={m.name}>
                  <td data-label="Model"><strong>{m.name}</strong></td>
                  <td data-label="Kind">{m.kind}</td>
                  <td data-label="Nodes">{m.nodes}</td>
                  <td data-label="Digests">{m.digests.map(d => <code key={d} title={d}>{shortDigest(d)}</code>)}</td>
                  <td data-label="Slots busy">{m.slots.in_flight} / {m.slots.advertised}</td>
                  <td data-label="Tokens/s">{formatInt(m.tokens_per_second)}</td>
                  <td data-label="Queued lines">{formatInt(m.queue_depth)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          )}
      {props.queue !== undefined && props.queue.unattributed > 0 ? <p class="muted">{formatInt(props.queue.unattributed)} more queued lines belong to batches that mix models.</p> : null}
    </section>
  )
}

function Nodes (props: { nodes: NodeStatus[] }) {
  return (
    <section class="card">
      <h2>Nodes</h2>
      {props.nodes.length === 0
        ? <p class="muted">No node is connected.</p>
        : (
          <table class="responsive" data-testid="nodes">
            <thead><tr><th>Peer</th><th>Models</th><th>Slots and load</th><th>Measured tokens/s</th><th>Uptime</th><th>Verified</th><th>Trust</th></tr></thead>
            <tbody>
              {props.nodes.map(node => (
                <tr key={node.peer_id} data-peer={node.peer_id}>
                  <td data-label="Peer"><code title={node.peer_id}>{shortId(node.peer_id)}</code><div class="muted">{node.engine} {node.version}</div></td>
                  <td data-label="Models">
                    {node.models.map(m => <div key={m.name}>{m.name} <code title={m.digest}>{shortDigest(m.digest)}</code> <span class="muted">{formatInt(m.tokens_per_second)} tok/s</span></div>)}
                  </td>
                  <td data-label="Slots and load">
                    <meter min={0} max={Math.max(1, node.slots.advertised)} value={node.slots.in_flight} />
                    <div data-testid="node-slots">{node.slots.in_flight} / {node.slots.advertised} busy</div>
                  </td>
                  <td data-label="Measured tokens/s">{formatRate(node.throughput.tokens_per_second)}<div class="muted">over {node.throughput.window_seconds} s</div></td>
                  <td data-label="Uptime">{formatDuration(node.uptime_seconds)}</td>
                  <td data-label="Verified"><span data-testid="node-verified">{formatInt(node.verified.tasks)}</span> tasks<div class="muted">{formatInt(node.verified.tokens)} tokens · {formatInt(node.verified.audited)} audited</div></td>
                  <td data-label="Trust">
                    <span class={`trust trust-${node.trust.level}`}>{node.trust.level}</span>
                    {node.trust.reason !== null ? <div class="muted" data-testid="trust-reason">{node.trust.reason}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          )}
    </section>
  )
}

render(<Dashboard />, document.getElementById('app')!)
