import { useEffect, useState } from 'preact/hooks'
import { ErrorNote } from '../components/header'
import { ApiError, api } from '../lib/api'
import type { ApiKey, KeyUsage } from '../lib/api'
import { formatInt, formatTime } from '../lib/format'
import { loadSecret, saveSecret } from '../lib/session'
import { SecretForm } from './sign-in'

const PLANS = ['free', 'developer', 'enterprise']

/** API keys (create, list, revoke) and their usage, with the admin token. */
export function Admin () {
  const [token, setToken] = useState(loadSecret('adminToken'))
  const accept = (value: string | undefined): void => {
    saveSecret('adminToken', value)
    setToken(value)
  }
  if (token === undefined) {
    return <SecretForm label="Admin token" probe="/admin/keys" intro="Manage API keys with the coordinator's admin token (DRIA_ADMIN_TOKEN). It stays in this tab only." onAccepted={accept} />
  }
  return <Keys token={token} onSignOut={() => { accept(undefined) }} />
}

function Keys (props: { token: string, onSignOut: () => void }) {
  const [keys, setKeys] = useState<ApiKey[]>([])
  const [usage, setUsage] = useState<Map<string, KeyUsage>>(new Map())
  const [created, setCreated] = useState<ApiKey>()
  const [name, setName] = useState('')
  const [plan, setPlan] = useState(PLANS[0])
  const [confirming, setConfirming] = useState<string>()
  const [error, setError] = useState<unknown>()

  async function act (step: () => Promise<void>): Promise<void> {
    setError(undefined)
    try {
      await step()
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) props.onSignOut()
      else setError(err)
    }
  }

  const reload = async (): Promise<void> => {
    const [list, used] = await Promise.all([
      api<{ data: ApiKey[] }>('/admin/keys', { secret: props.token }),
      api<{ data: KeyUsage[] }>('/admin/usage', { secret: props.token })
    ])
    setKeys(list.data.sort((a, b) => b.created_at - a.created_at))
    setUsage(new Map(used.data.map(u => [u.key_id, u])))
  }

  useEffect(() => { void act(reload) }, [props.token])

  const create = (event: Event): void => {
    event.preventDefault()
    void act(async () => {
      setCreated(await api<ApiKey>('/admin/keys', { method: 'POST', secret: props.token, body: { name: name.trim(), plan } }))
      setName('')
      await reload()
    })
  }

  const revoke = (id: string): void => {
    void act(async () => {
      await api(`/admin/keys/${encodeURIComponent(id)}`, { method: 'DELETE', secret: props.token })
      setConfirming(undefined)
      await reload()
    })
  }

  return (
    <>
      <section class="card">
        <h2>New API key <button type="button" class="secondary small" onClick={props.onSignOut}>Forget admin token</button></h2>
        <form class="row" onSubmit={create}>
          <input aria-label="key name" placeholder="name (who is it for?)" required maxLength={200} value={name} onInput={event => { setName(event.currentTarget.value) }} />
          <select aria-label="plan" value={plan} onChange={event => { setPlan(event.currentTarget.value) }}>
            {PLANS.map(p => <option key={p} value={p}>{p}</option>)}
          </select>
          <button type="submit">Create key</button>
        </form>
        {created?.key !== undefined
          ? (
            <div class="new-key" role="status">
              <p>Key for <strong>{created.name}</strong> ({created.plan}). Copy it now: it is shown only once.</p>
              <code data-testid="new-key">{created.key}</code>
              <button type="button" class="secondary" onClick={() => { void navigator.clipboard?.writeText(created.key!) }}>Copy</button>
              <button type="button" class="secondary" onClick={() => { setCreated(undefined) }}>Done</button>
            </div>
            )
          : null}
        <ErrorNote error={error} />
      </section>
      <section class="card">
        <h2>API keys</h2>
        {keys.length === 0
          ? <p class="muted">No keys created through the admin API yet (keys from DRIA_API_KEYS are not listed).</p>
          : (
            <table class="responsive" data-testid="keys">
              <thead><tr><th>Name</th><th>Plan</th><th>Key</th><th>Created</th><th>Batches</th><th>Requests</th><th>Tokens</th><th /></tr></thead>
              <tbody>
                {keys.map(key => {
                  const used = usage.get(key.id)
                  return (
                    <tr key={key.id} data-key={key.id}>
                      <td data-label="Name">{key.name}</td>
                      <td data-label="Plan">{key.plan}</td>
                      <td data-label="Key"><code>{key.prefix}…</code></td>
                      <td data-label="Created">{formatTime(key.created_at)}</td>
                      <td data-label="Batches">{formatInt(used?.batches ?? 0)}</td>
                      <td data-label="Requests">{formatInt(used?.requests.completed ?? 0)} done · {formatInt(used?.requests.failed ?? 0)} failed</td>
                      <td data-label="Tokens">{formatInt(used?.usage.total_tokens ?? 0)}</td>
                      <td><div class="actions">
                        {confirming === key.id
                          ? <><button type="button" class="danger" onClick={() => { revoke(key.id) }}>Confirm revoke</button><button type="button" class="secondary" onClick={() => { setConfirming(undefined) }}>Keep</button></>
                          : <button type="button" class="danger" onClick={() => { setConfirming(key.id) }}>Revoke</button>}
                      </div></td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
            )}
      </section>
    </>
  )
}
