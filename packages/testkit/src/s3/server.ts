import { createHash, createHmac } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { SignatureV4 } from '@smithy/signature-v4'
import S3rver from 's3rver'

export interface S3ServerInit {
  /** Buckets that exist from the start. Default `['dria']`. */
  buckets?: string[]
}

export interface S3Server {
  /** `http://127.0.0.1:<port>`, for `--s3-endpoint`. */
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  /** The AWS_* environment a client needs to reach this server. */
  env: Record<string, string>
  /** While true, every request gets a 500 InternalError (an S3 outage). */
  failing: boolean
  /** Requests whose signature or expiry was refused. */
  refused: number
  stop(): Promise<void>
}

const REGION = 'us-east-1'

type Data = string | ArrayBuffer | ArrayBufferView
const bytes = (data: Data): string | Buffer => typeof data === 'string' ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data)

/** node:crypto in the shape the signer wants. */
class Sha256 {
  private readonly hash
  constructor (secret?: Data) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }

  update (data: Data): void { this.hash.update(bytes(data)) }
  async digest (): Promise<Uint8Array> { return this.hash.digest() }
}

function s3Error (res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', connection: 'close' })
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`)
}

const header = (req: IncomingMessage, name: string): string => String(req.headers[name] ?? '')

/** `20261201T225122Z` → Date. */
function amzDate (value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (m === null) return new Date(Number.NaN)
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])))
}

/**
 * An S3 server on 127.0.0.1 for tests: s3rver (objects in a temp dir, multipart uploads,
 * listing) behind a check of AWS Signature V4 on every request, header-signed or pre-signed
 * (with expiry), which s3rver itself does not check: a tampered or expired pre-signed URL is
 * refused with 403 as S3 refuses it.
 */
export async function startS3Server (init: S3ServerInit = {}): Promise<S3Server> {
  // The one key pair s3rver knows.
  const accessKeyId = 'S3RVER'
  const secretAccessKey = 'S3RVER'
  const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region: REGION, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false })
  const directory = await mkdtemp(join(tmpdir(), 'dria-s3-'))
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    // Checked below with the real algorithm; s3rver would accept any V4 signature.
    allowMismatchedSignatures: true,
    configureBuckets: (init.buckets ?? ['dria']).map(name => ({ name, configs: [] }))
  })

  async function verify (req: IncomingMessage): Promise<string | undefined> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const query: Record<string, string> = {}
    for (const [k, v] of url.searchParams) query[k] = v
    const auth = header(req, 'authorization')
    const presigned = query['X-Amz-Signature'] !== undefined
    let signedHeaders: string[]
    let given: string
    let date: Date
    let credential: string
    if (presigned) {
      signedHeaders = (query['X-Amz-SignedHeaders'] ?? '').split(';')
      given = query['X-Amz-Signature']
      credential = query['X-Amz-Credential'] ?? ''
      date = amzDate(query['X-Amz-Date'] ?? '')
      const expires = Number(query['X-Amz-Expires'])
      if (!(date.getTime() + expires * 1000 >= Date.now())) return 'Request has expired'
    } else {
      const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(auth)
      if (m === null) return 'Missing or unsupported authorization'
      credential = m[1]
      signedHeaders = m[2].split(';')
      given = m[3]
      date = amzDate(header(req, 'x-amz-date'))
    }
    if (!credential.startsWith(`${accessKeyId}/`)) return 'Unknown access key'
    const headers: Record<string, string> = {}
    for (const name of signedHeaders) headers[name] = header(req, name)
    const request = { method: req.method ?? 'GET', protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query, headers }
    let expected: string | undefined
    if (presigned) {
      // The payload hash rides in the query of a pre-signed URL; the signer hoists it there again.
      const unsigned = Object.fromEntries(Object.entries(query).filter(([k]) => !k.startsWith('X-Amz-')))
      const payload = { 'X-Amz-Content-Sha256': query['X-Amz-Content-Sha256'] ?? 'UNSIGNED-PAYLOAD' }
      const signed = await signer.presign({ ...request, query: unsigned, headers: { ...headers, ...payload } }, { signingDate: date, expiresIn: Number(query['X-Amz-Expires']), signableHeaders: new Set(signedHeaders) })
      expected = signed.query?.['X-Amz-Signature'] as string | undefined
    } else {
      const signed = await signer.sign({ ...request, body: undefined }, { signingDate: date, signableHeaders: new Set(signedHeaders) })
      expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1]
    }
    return expected === given ? undefined : 'The request signature does not match'
  }

  const server: S3Server = {
    endpoint: '',
    accessKeyId,
    secretAccessKey,
    env: {},
    failing: false,
    refused: 0,
    async stop () {
      (s3rver as unknown as { httpServer: Server }).httpServer.closeAllConnections()
      await s3rver.close()
      await rm(directory, { recursive: true, force: true })
    }
  }
  const address = await s3rver.run()
  // Every request is checked before s3rver sees it.
  const http = (s3rver as unknown as { httpServer: Server }).httpServer
  const handle = s3rver.callback()
  http.removeAllListeners('request')
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (server.failing) {
      req.resume()
      return s3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.')
    }
    verify(req).then((refusal) => {
      if (refusal === undefined) return handle(req, res)
      server.refused++
      req.resume()
      s3Error(res, 403, refusal === 'Request has expired' ? 'AccessDenied' : 'SignatureDoesNotMatch', refusal)
    }, (err: Error) => { s3Error(res, 500, 'InternalError', err.message) })
  })
  server.endpoint = `http://127.0.0.1:${address.port}`
  server.env = { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: REGION }
  return server
}
