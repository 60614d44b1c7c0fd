import type { ComponentChildren } from 'preact'

export function Header (props: { page: 'console' | 'network', children?: ComponentChildren }) {
  return (
    <header class="top">
      <a class="brand" href="/">Dria</a>
      <nav>
        <a href="/" aria-current={props.page === 'console' ? 'page' : undefined}>Console</a>
        <a href="/network" aria-current={props.page === 'network' ? 'page' : undefined}>Network</a>
      </nav>
      <div class="top-extra">{props.children}</div>
    </header>
  )
}

export function ErrorNote (props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null
  const error = props.error as { code?: string | null, message?: string }
  return (
    <p class="error" role="alert">
      {error.code != null ? <code>{error.code}</code> : null} {error.message ?? String(props.error)}
    </p>
  )
}

export function StreamBadge (props: { state: string }) {
  const label = props.state === 'live' ? 'live' : props.state === 'unauthorized' ? 'not signed in' : 'reconnecting…'
  return <span class={`stream stream-${props.state}`} data-testid="stream-state">{label}</span>
}
