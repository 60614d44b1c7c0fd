import { Ollama } from 'ollama'
import { fromOllamaError } from './errors.js'

export interface PullProgress {
  /** Ollama's status line: `pulling manifest`, `pulling <digest>`, `verifying sha256 digest`, `success`… */
  status: string
  /** Bytes of the layer being downloaded, when Ollama reports them. */
  completed?: number
  total?: number
}

/**
 * Pulls `model` into the Ollama server at `host` through its native `/api/pull`, reporting
 * each progress update. Resolves once Ollama says `success`; failures are coded engine errors.
 */
export async function pullOllamaModel (host: string, model: string, options: { onProgress?: (progress: PullProgress) => void, signal?: AbortSignal } = {}): Promise<void> {
  const signal = options.signal
  const client = new Ollama({ host, fetch: async (input, init) => await fetch(input, { ...init, signal: signal ?? init?.signal }) })
  try {
    const stream = await client.pull({ model, stream: true })
    for await (const part of stream) {
      options.onProgress?.({ status: part.status, completed: part.completed || undefined, total: part.total || undefined })
      if (part.status === 'success') return
    }
  } catch (err) {
    throw fromOllamaError(err, 0)
  }
  throw fromOllamaError(new Error(`ollama ended the pull of ${model} without success`), 0)
}
