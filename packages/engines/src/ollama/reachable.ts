import { Ollama } from 'ollama'
import { DEFAULT_REACHABLE_TIMEOUT_MS } from './constants.js'

/** Whether an Ollama server answers `/api/version` at `host` within `timeoutMs` (default 1 s). */
export async function isOllamaReachable (host: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REACHABLE_TIMEOUT_MS)
  const client = new Ollama({ host, fetch: async (input, init) => await fetch(input, { ...init, signal }) })
  try {
    const { version } = await client.version()
    return typeof version === 'string'
  } catch {
    return false
  }
}
