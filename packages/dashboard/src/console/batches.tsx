import { useEffect, useMemo, useState } from 'preact/hooks'
import { ErrorNote, StreamBadge } from '../components/header'
import { ApiError, FINAL_STATUSES, api, downloadFile } from '../lib/api'
import type { Batch } from '../lib/api'
import { openEventStream } from '../lib/events'
import type { StreamState } from '../lib/events'
import { formatDuration, formatInt, formatRate, formatTime, shortId } from '../lib/format'
import { RateTracker } from '../lib/rate'
import { NewBatch } from './new-batch'

const CANCELLABLE = new Set(['validating', 'in_progress'])

/** Every batch of the key, updated live from the event stream. */
export function Batches (props: { apiKey: string, onUnauthorized: () => void }) {
  const [batches, setBatches] = useState<Map<string, Batch>>(new Map())
  const [state, setState] = useState<StreamState>('connecting')
  const [error, setError] = useState<unknown>()
  const rates = useMemo(() => new RateTracker(), [props.apiKey])

  // Rates use this browser's clock only: the coordinator's may differ.
  const upsert = (batch: Batch): void => {
    rates.observe(batch.id, batch.request_counts.completed + batch.request_counts.failed, Date.now())
    setBatches(previous => new Map(previous).set(batch.id, batch))
  }

  async function reload (): Promise<void> {
    try {
      const page = await api<{ data: Batch[] }>('/v1/batches?limit=100', { secret: props.apiKey })
      setBatches(new Map(page.data.map(b => [b.id, b])))
      page.data.forEach(b => { rates.observe(b.id, b.request_counts.completed + b.request_counts.failed, Date.now()) })
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) props.onUnauthorized()
      else setError(err)
    }
  }

  useEffect(() => openEventStream({
    key: props.apiKey,
    onState: next => {
      setState(next)
      if (next === 'unauthorized') props.onUnauthorized()
    },
    onEvent: (type, data) => {
      // Each (re)connection starts with hello: the list is read again so nothing missed while away is lost.
      if (type === 'hello') void reload()
      if (type === 'batch.updated') upsert(data as Batch)
    }
  }), [props.apiKey])

  async function act (step: () => Promise<void>): Promise<void> {
    setError(undefined)
    try {
      await step()
    } catch (err) {
      setError(err)
    }
  }

  const list = [...batches.values()].sort((a, b) => b.created_at - a.created_at || b.id.localeCompare(a.id))
  return (
    <>
      <NewBatch apiKey={props.apiKey} onCreated={batch => { upsert(batch) }} />
      <section class="card">
        <h2>Batches <StreamBadge state={state} /></h2>
        <ErrorNote error={error} />
        {list.length === 0
          ? <p class="muted">No batches yet.</p>
          : (
            <table class="responsive" data-testid="batches">
              <thead>
                <tr><th>Batch</th><th>Status</th><th>Progress</th><th>Rate</th><th>ETA</th><th>Tokens</th><th>Created</th><th /></tr>
              </thead>
              <tbody>
                {list.map(batch => (
                  <BatchRow
                    key={batch.id}
                    batch={batch}
                    rate={rates.rate(batch.id)}
                    onDownload={(fileId, kind) => { void act(async () => { await downloadFile(fileId, `${batch.id}_${kind}.jsonl`, props.apiKey) }) }}
                    onCancel={() => { void act(async () => { upsert(await api<Batch>(`/v1/batches/${batch.id}/cancel`, { method: 'POST', secret: props.apiKey })) }) }}
                  />
                ))}
              </tbody>
            </table>
            )}
      </section>
    </>
  )
}

function BatchRow (props: { batch: Batch, rate: number | null, onDownload: (fileId: string, kind: 'output' | 'error') => void, onCancel: () => void }) {
  const { batch, rate } = props
  const { total, completed, failed } = batch.request_counts
  const remaining = total - completed - failed
  const running = batch.status === 'in_progress'
  const eta = running && rate !== null && rate > 0 ? remaining / rate : null
  return (
    <tr data-batch={batch.id} data-status={batch.status}>
      <td data-label="Batch"><code title={batch.id}>{shortId(batch.id, 10)}</code><div class="muted">{batch.endpoint}</div></td>
      <td data-label="Status"><span class={`status status-${batch.status}`}>{batch.status.replace('_', ' ')}</span></td>
      <td data-label="Progress">
        <progress value={completed + failed} max={Math.max(1, total)} />
        <div class="counts" data-testid="counts">{formatInt(completed)} done · {formatInt(failed)} failed · {formatInt(total)} total</div>
        {batch.errors !== null && batch.errors.data.length > 0
          ? (
            <ul class="line-errors">
              {batch.errors.data.slice(0, 5).map((e, i) => <li key={i}>{e.line !== null ? `line ${e.line}: ` : ''}<code>{e.code}</code> {e.message}</li>)}
            </ul>
            )
          : null}
      </td>
      <td data-label="Rate">{running ? `${formatRate(rate)} lines/s` : '—'}</td>
      <td data-label="ETA">{FINAL_STATUSES.has(batch.status) ? '—' : formatDuration(eta)}</td>
      <td data-label="Tokens">{formatInt(batch.usage.total_tokens)}<div class="muted">{formatInt(batch.usage.input_tokens)} in · {formatInt(batch.usage.output_tokens)} out</div></td>
      <td data-label="Created">{formatTime(batch.created_at)}</td>
      <td><div class="actions">
        {batch.output_file_id !== null ? <button type="button" class="secondary" onClick={() => { props.onDownload(batch.output_file_id!, 'output') }}>Output</button> : null}
        {batch.error_file_id !== null ? <button type="button" class="secondary" onClick={() => { props.onDownload(batch.error_file_id!, 'error') }}>Errors</button> : null}
        {CANCELLABLE.has(batch.status) ? <button type="button" class="danger" onClick={props.onCancel}>Cancel</button> : null}
      </div></td>
    </tr>
  )
}
