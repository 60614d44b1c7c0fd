import { useState } from 'preact/hooks'
import { ErrorNote } from '../components/header'
import { api } from '../lib/api'

/** Asks for a secret and checks it against `probe` before accepting it. */
export function SecretForm (props: { label: string, probe: string, intro: string, onAccepted: (secret: string) => void }) {
  const [secret, setSecret] = useState('')
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)

  async function submit (event: Event): Promise<void> {
    event.preventDefault()
    const value = secret.trim()
    if (value === '') return
    setBusy(true)
    setError(undefined)
    try {
      await api(props.probe, { secret: value })
      props.onAccepted(value)
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="card sign-in" onSubmit={event => { void submit(event) }}>
      <p>{props.intro}</p>
      <label>
        {props.label}
        <input type="password" autocomplete="off" spellcheck={false} value={secret} onInput={event => { setSecret(event.currentTarget.value) }} />
      </label>
      <button type="submit" disabled={busy}>Sign in</button>
      <ErrorNote error={error} />
    </form>
  )
}

export function SignIn (props: { onSignedIn: (key: string) => void }) {
  return (
    <SecretForm
      label="API key"
      probe="/v1/batches?limit=1"
      intro="Sign in with your API key. It stays in this browser tab only and is forgotten when you close it."
      onAccepted={props.onSignedIn}
    />
  )
}
