/** Input files for benchmarks of ingest: written, uploaded, and the coordinator's memory while it works. */
import { createReadStream, createWriteStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { request } from 'node:http'
import { pipeline } from 'node:stream/promises'

/** A JSONL file of `count` chat requests for `model`, each prompt padded by `pad` bytes. */
export async function writeLines (path: string, count: number, options: { model: string, pad?: number }): Promise<void> {
  const out = createWriteStream(path)
  const padding = 'x'.repeat(options.pad ?? 0)
  const chunk: string[] = []
  for (let i = 0; i < count; i++) {
    chunk.push(JSON.stringify({
      custom_id: `request-${i}`, method: 'POST', url: '/v1/chat/completions',
      body: { model: options.model, messages: [{ role: 'user', content: `Tell me a story about number ${i}.${padding}` }], max_tokens: 16 }
    }))
    if (chunk.length === 10_000 || i === count - 1) {
      if (!out.write(chunk.join('\n') + '\n')) await once(out, 'drain')
      chunk.length = 0
    }
  }
  out.end()
  await once(out, 'finish')
}

/**
 * A multipart upload streamed from disk with a known length (fetch's FormData buffers a
 * multi-GiB Blob and crawls).
 */
export async function upload (baseUrl: string, apiKey: string, path: string): Promise<{ id: string }> {
  const boundary = `dria-bench-${Date.now()}`
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="input.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`
  const tail = `\r\n--${boundary}--\r\n`
  const { size } = await stat(path)
  return await new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail) }
    }, res => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => { res.statusCode === 200 ? resolve(JSON.parse(text) as { id: string }) : reject(new Error(`upload: ${res.statusCode ?? 0} ${text}`)) })
    })
    req.on('error', reject)
    req.write(head)
    pipeline(createReadStream(path), async function * (source) { yield * source; yield Buffer.from(tail) }, req).catch(reject)
  })
}

export async function peakRssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
}

/** Samples the process's anonymous and file-backed resident memory; `stop` gives the peaks (MB). */
export function sampleRss (pid: number): { stop: () => { anon: number, file: number } } {
  const peak = { anon: 0, file: 0 }
  const timer = setInterval(() => {
    readFile(`/proc/${pid}/status`, 'utf8').then(status => {
      peak.anon = Math.max(peak.anon, Number(/RssAnon:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024)
      peak.file = Math.max(peak.file, Number(/RssFile:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024)
    }).catch(() => {})
  }, 250)
  return { stop: () => { clearInterval(timer); return peak } }
}

