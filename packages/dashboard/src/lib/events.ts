/**
 * A Server-Sent Events client for `/api/v0/events` over fetch (EventSource cannot send the
 * Authorization header a key's batch events need). Reconnects after the server's `retry`.
 */

export type StreamState = 'connecting' | 'live' | 'retrying' | 'unauthorized'

export interface StreamOptions {
  /** With a key, the stream also carries that key's batch events. */
  key?: string
  onEvent: (type: string, data: any, at: number) => void
  onState?: (state: StreamState) => void
}

const DEFAULT_RETRY_MS = 2_000

export function openEventStream (options: StreamOptions): () => void {
  const controller = new AbortController()
  let retryMs = DEFAULT_RETRY_MS

  function dispatch (block: string): void {
    let type = 'message'
    let data = ''
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') type = value
      else if (field === 'data') data += (data === '' ? '' : '\n') + value
      else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value)
    }
    if (data === '') return
    const envelope = JSON.parse(data) as { at: number, data: unknown }
    options.onEvent(type, envelope.data, envelope.at)
  }

  async function connect (): Promise<boolean> {
    options.onState?.('connecting')
    const headers: Record<string, string> = options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }
    const response = await fetch('/api/v0/events', { headers, signal: controller.signal, cache: 'no-store' })
    if (response.status === 401) {
      options.onState?.('unauthorized')
      return false
    }
    if (!response.ok || response.body === null) return true
    options.onState?.('live')
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return true
      buffer += value.replace(/\r\n?/g, '\n')
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
      }
    }
  }

  void (async () => {
    while (!controller.signal.aborted) {
      let again = true
      try {
        again = await connect()
      } catch {
        // Dropped connection or coordinator restart: try again below.
      }
      if (!again || controller.signal.aborted) return
      options.onState?.('retrying')
      await new Promise(resolve => setTimeout(resolve, retryMs))
    }
  })()
  return () => { controller.abort() }
}
