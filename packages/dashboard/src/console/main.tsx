import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { Header } from '../components/header'
import { loadSecret, saveSecret } from '../lib/session'
import { Admin } from './admin'
import { Batches } from './batches'
import { SignIn } from './sign-in'
import '../styles.css'

type Tab = 'batches' | 'admin'

const tabOfHash = (): Tab => location.hash === '#admin' ? 'admin' : 'batches'

function App () {
  const [apiKey, setApiKey] = useState(loadSecret('apiKey'))
  const [tab, setTab] = useState<Tab>(tabOfHash())

  useEffect(() => {
    const onHash = (): void => { setTab(tabOfHash()) }
    addEventListener('hashchange', onHash)
    return () => { removeEventListener('hashchange', onHash) }
  }, [])

  const signIn = (key: string | undefined): void => {
    saveSecret('apiKey', key)
    setApiKey(key)
  }

  return (
    <>
      <Header page="console">
        {apiKey !== undefined ? <button type="button" class="secondary" onClick={() => { signIn(undefined) }}>Sign out</button> : null}
      </Header>
      <main>
        <div class="tabs" role="tablist">
          <a role="tab" href="#batches" aria-selected={tab === 'batches'}>Batches</a>
          <a role="tab" href="#admin" aria-selected={tab === 'admin'}>Admin</a>
        </div>
        {tab === 'admin'
          ? <Admin />
          : apiKey === undefined
            ? <SignIn onSignedIn={signIn} />
            : <Batches apiKey={apiKey} onUnauthorized={() => { signIn(undefined) }} />}
      </main>
    </>
  )
}

render(<App />, document.getElementById('app')!)
