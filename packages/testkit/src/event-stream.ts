/** A Server-Sent Events reader for tests and benchmarks of `/api/v0/events`. */

export interface StreamedEvent {
  event: string
  id: number
  /** The envelope the coordinator sends: `{type, at, data}`. */
  data: { type: string, at: number, data: any }
  /** Date.now() when the event was parsed. */
  receivedAt: number
}

export interface EventStreamReader {
  /** Resolves with the response status once the headers arrived. */
  opened: Promise<number>
  /** Resolves when the stream ends (server closed it, or close()). */
  ended: Promise<void>
  close(): void
}

/** Opens `url` with fetch and calls `onEvent` for every event (comments and retry lines are skipped). */
export function readEventStream (url: string, options: { headers?: Record<string, string>, onEvent: (event: StreamedEvent) => void }): EventStreamReader {
  const controller = new AbortController()
  let opened!: (status: number) => void
  const openedPromise = new Promise<number>(resolve => { opened = resolve })
  const ended = (async () => {
    const response = await fetch(url, { headers: options.headers, signal: controller.signal })
    opened(response.status)
    if (response.body === null) return
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += value
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const fields = new Map<string, string>()
        for (const line of block.split('\n')) {
          const colon = line.indexOf(': ')
          if (colon > 0 && !line.startsWith(':')) fields.set(line.slice(0, colon), line.slice(colon + 2))
        }
        const event = fields.get('event')
        const data = fields.get('data')
        if (event !== undefined && data !== undefined) options.onEvent({ event, id: Number(fields.get('id')), data: JSON.parse(data), receivedAt: Date.now() })
      }
    }
  })().catch(err => { if (!controller.signal.aborted) throw err })
  return { opened: openedPromise, ended, close: () => { controller.abort() } }
}
