/** The coordinator's HTTP API as the console uses it (same origin). */

export interface RequestCounts { total: number, completed: number, failed: number }
export interface Usage { input_tokens: number, output_tokens: number, total_tokens: number }

export interface Batch {
  id: string
  endpoint: string
  status: string
  input_file_id: string
  output_file_id: string | null
  error_file_id: string | null
  created_at: number
  in_progress_at: number | null
  completed_at: number | null
  request_counts: RequestCounts
  usage: Usage
  metadata: Record<string, string> | null
  errors: { data: LineError[] } | null
}

export interface FileObject { id: string, bytes: number, filename: string }

export interface LineError { line: number | null, code: string, message: string, param: string | null }

export interface FileValidation {
  file_id: string
  valid: boolean
  requests: number
  error_count: number
  errors: LineError[]
  models: string[]
}

export interface ApiKey { id: string, name: string, plan: string, prefix: string, created_at: number, key?: string }

export interface KeyUsage { key_id: string, batches: number, requests: RequestCounts, usage: Usage }

/** An error envelope from the API, with its stable code. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string | null

  constructor (status: number, code: string | null, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

function authHeaders (secret: string | undefined): Record<string, string> {
  return secret === undefined ? {} : { authorization: `Bearer ${secret}` }
}

async function failure (response: Response): Promise<ApiError> {
  try {
    const body = await response.json() as { error?: { code?: string, message?: string } }
    return new ApiError(response.status, body.error?.code ?? null, body.error?.message ?? response.statusText)
  } catch {
    return new ApiError(response.status, null, response.statusText)
  }
}

/** A JSON request; `secret` is an API key or the admin token. */
export async function api<T> (path: string, options: { method?: string, body?: unknown, secret?: string } = {}): Promise<T> {
  const headers = authHeaders(options.secret)
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, { method: options.method ?? 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) })
  if (!response.ok) throw await failure(response)
  return await response.json() as T
}

/** Uploads a batch input file, reporting bytes sent as they go. */
export async function uploadFile (file: File, key: string, onProgress: (sent: number, total: number) => void): Promise<FileObject> {
  const form = new FormData()
  form.append('purpose', 'batch')
  form.append('file', file, file.name)
  return await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/v1/files')
    xhr.setRequestHeader('authorization', `Bearer ${key}`)
    xhr.responseType = 'json'
    xhr.upload.onprogress = event => { if (event.lengthComputable) onProgress(event.loaded, event.total) }
    xhr.onload = () => {
      const body = xhr.response as (FileObject & { error?: { code?: string, message?: string } }) | null
      if (xhr.status === 200 && body !== null) resolve(body)
      else reject(new ApiError(xhr.status, body?.error?.code ?? null, body?.error?.message ?? 'Upload failed'))
    }
    xhr.onerror = () => { reject(new ApiError(0, 'network_error', 'The coordinator could not be reached.')) }
    xhr.send(form)
  })
}

/** Saves a file's content through the browser's download (the content needs the key, so no plain link). */
export async function downloadFile (fileId: string, filename: string, key: string): Promise<void> {
  const response = await fetch(`/v1/files/${encodeURIComponent(fileId)}/content`, { headers: authHeaders(key) })
  if (!response.ok) throw await failure(response)
  const url = URL.createObjectURL(await response.blob())
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => { URL.revokeObjectURL(url) }, 10_000)
}

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'expired', 'cancelled'])
