import { useRef, useState } from 'preact/hooks'
import { ErrorNote } from '../components/header'
import { api, uploadFile } from '../lib/api'
import type { Batch, FileObject, FileValidation } from '../lib/api'
import { formatBytes, formatInt } from '../lib/format'

const ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']

interface MetadataRow { key: string, value: string }

/** Drop a .jsonl file, see it upload and validate (with line numbers), then start a batch. */
export function NewBatch (props: { apiKey: string, onCreated: (batch: Batch) => void }) {
  const input = useRef<HTMLInputElement>(null)
  const [endpoint, setEndpoint] = useState(ENDPOINTS[0])
  const [dragging, setDragging] = useState(false)
  const [chosen, setChosen] = useState<File>()
  const [progress, setProgress] = useState<{ sent: number, total: number }>()
  const [file, setFile] = useState<FileObject>()
  const [validation, setValidation] = useState<FileValidation>()
  const [metadata, setMetadata] = useState<MetadataRow[]>([{ key: '', value: '' }])
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()

  const metadataObject = (): Record<string, string> | undefined => {
    const entries = metadata.filter(row => row.key.trim() !== '').map(row => [row.key.trim(), row.value] as const)
    return entries.length === 0 ? undefined : Object.fromEntries(entries)
  }

  async function validate (fileId: string, forEndpoint: string): Promise<void> {
    setValidation(undefined)
    const model = metadataObject()?.model
    setValidation(await api<FileValidation>(`/api/v0/files/${encodeURIComponent(fileId)}/validate`, {
      method: 'POST',
      secret: props.apiKey,
      body: model === undefined ? { endpoint: forEndpoint } : { endpoint: forEndpoint, model }
    }))
  }

  async function run (step: () => Promise<void>): Promise<void> {
    setBusy(true)
    setError(undefined)
    try {
      await step()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  function choose (picked: File | undefined): void {
    if (picked === undefined) return
    setChosen(picked)
    setFile(undefined)
    setValidation(undefined)
    setProgress({ sent: 0, total: picked.size })
    void run(async () => {
      const uploaded = await uploadFile(picked, props.apiKey, (sent, total) => { setProgress({ sent, total }) })
      setFile(uploaded)
      await validate(uploaded.id, endpoint)
    })
  }

  function start (event: Event): void {
    event.preventDefault()
    if (file === undefined) return
    void run(async () => {
      const metadataValue = metadataObject()
      const batch = await api<Batch>('/v1/batches', {
        method: 'POST',
        secret: props.apiKey,
        body: { input_file_id: file.id, endpoint, completion_window: '24h', ...(metadataValue === undefined ? {} : { metadata: metadataValue }) }
      })
      props.onCreated(batch)
      setChosen(undefined)
      setFile(undefined)
      setValidation(undefined)
      setProgress(undefined)
      setMetadata([{ key: '', value: '' }])
    })
  }

  const setRow = (index: number, row: Partial<MetadataRow>): void => {
    setMetadata(rows => rows.map((r, i) => i === index ? { ...r, ...row } : r))
  }

  return (
    <section class="card">
      <h2>New batch</h2>
      <form onSubmit={start}>
        <label>
          Endpoint
          <select value={endpoint} onChange={event => {
            const value = event.currentTarget.value
            setEndpoint(value)
            if (file !== undefined) void run(async () => { await validate(file.id, value) })
          }}>
            {ENDPOINTS.map(e => <option key={e} value={e}>{e}</option>)}
          </select>
        </label>
        <div
          class={`drop${dragging ? ' dragging' : ''}`}
          data-testid="drop-zone"
          role="button"
          tabIndex={0}
          onClick={() => input.current?.click()}
          onKeyDown={event => { if (event.key === 'Enter' || event.key === ' ') input.current?.click() }}
          onDragOver={event => { event.preventDefault(); setDragging(true) }}
          onDragLeave={() => { setDragging(false) }}
          onDrop={event => {
            event.preventDefault()
            setDragging(false)
            choose(event.dataTransfer?.files[0])
          }}
        >
          {chosen === undefined ? 'Drop a .jsonl file here, or choose one' : `${chosen.name} (${formatBytes(chosen.size)})`}
          <input ref={input} type="file" accept=".jsonl,application/jsonl,application/x-ndjson" hidden onChange={event => { choose(event.currentTarget.files?.[0]); event.currentTarget.value = '' }} />
        </div>
        {progress !== undefined && file === undefined
          ? <p><progress data-testid="upload-progress" value={progress.sent} max={Math.max(1, progress.total)} /> {Math.floor(100 * progress.sent / Math.max(1, progress.total))} % uploaded</p>
          : null}
        {validation !== undefined ? <ValidationResult validation={validation} /> : null}
        <fieldset>
          <legend>Metadata</legend>
          {metadata.map((row, i) => (
            <div class="row" key={i}>
              <input aria-label="metadata key" placeholder="key (e.g. model)" value={row.key} onInput={event => { setRow(i, { key: event.currentTarget.value }) }} />
              <input aria-label="metadata value" placeholder="value" value={row.value} onInput={event => { setRow(i, { value: event.currentTarget.value }) }} />
              <button type="button" class="secondary" aria-label="remove metadata" onClick={() => { setMetadata(rows => rows.length === 1 ? [{ key: '', value: '' }] : rows.filter((_, j) => j !== i)) }}>×</button>
            </div>
          ))}
          <button type="button" class="secondary" onClick={() => { setMetadata(rows => [...rows, { key: '', value: '' }]) }}>Add metadata</button>
        </fieldset>
        <button type="submit" disabled={busy || validation?.valid !== true}>Start batch</button>
        <ErrorNote error={error} />
      </form>
    </section>
  )
}

function ValidationResult (props: { validation: FileValidation }) {
  const { validation } = props
  if (validation.valid) {
    return (
      <p class="ok" data-testid="validation">
        Valid: {formatInt(validation.requests)} requests{validation.models.length > 0 ? ` for ${validation.models.join(', ')}` : ''}.
      </p>
    )
  }
  return (
    <div class="invalid" data-testid="validation">
      <p>{formatInt(validation.error_count)} problem{validation.error_count === 1 ? '' : 's'} found; fix the file and drop it again.</p>
      <table class="compact">
        <thead><tr><th>Line</th><th>Code</th><th>Problem</th></tr></thead>
        <tbody>
          {validation.errors.map((e, i) => (
            <tr key={i}><td data-label="Line">{e.line ?? '—'}</td><td data-label="Code"><code>{e.code}</code></td><td data-label="Problem">{e.message}</td></tr>
          ))}
        </tbody>
      </table>
      {validation.error_count > validation.errors.length ? <p>…and {formatInt(validation.error_count - validation.errors.length)} more.</p> : null}
    </div>
  )
}
