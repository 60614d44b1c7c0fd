import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import { createLogger } from '@dria/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { isPublicAddress, parseWebhookUrl, resolveWebhookTarget } from './target.js'
import { createWebhookSender, signWebhook } from './webhook-sender.js'

const logger = createLogger('test', 'silent')
const strict = { allowInsecure: false }
const event = { id: 'evt_1', object: 'event' as const, type: 'batch.completed', created_at: 1, data: { id: 'batch_1' } }

describe('webhook targets', () => {
  it('tells public addresses from loopback, private, link-local and reserved ones', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '93.184.216.34']) expect(isPublicAddress(address), address).toBe(true)
    for (const address of [
      '127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
      '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a00:1', 'not-an-ip'
    ]) expect(isPublicAddress(address), address).toBe(false)
  })

  it('requires https without credentials, unless insecure targets are allowed', () => {
    expect(parseWebhookUrl('https://hooks.example.com/x', strict).hostname).toBe('hooks.example.com')
    for (const url of ['http://hooks.example.com/x', 'file:///etc/passwd', 'gopher://x', 'ftp://x/y', 'not a url', 'https://user:pw@hooks.example.com/']) {
      expect(() => parseWebhookUrl(url, strict), url).toThrow(expect.objectContaining({ code: 'invalid_webhook_url', param: 'webhook_url' }))
    }
    expect(parseWebhookUrl('http://127.0.0.1:9/x', { allowInsecure: true }).port).toBe('9')
    expect(() => parseWebhookUrl('file:///etc/passwd', { allowInsecure: true })).toThrow(expect.objectContaining({ code: 'invalid_webhook_url' }))
  })

  it('refuses hosts that are, or resolve to, non-public addresses', async () => {
    for (const url of ['https://127.0.0.1/', 'https://[::1]/', 'https://localhost/', 'https://169.254.169.254/latest/meta-data', 'https://[::ffff:10.0.0.1]/']) {
      await expect(resolveWebhookTarget(url, strict), url).rejects.toMatchObject({ code: 'invalid_webhook_url', retryable: false })
    }
    await expect(resolveWebhookTarget('https://no-such-host.invalid/', strict)).rejects.toMatchObject({ code: 'invalid_webhook_url', retryable: true })
    await expect(resolveWebhookTarget('http://localhost:1/', { allowInsecure: true })).resolves.toMatchObject({ address: expect.any(String) })
  })
})

describe('webhook sender', () => {
  let server: Server | undefined
  afterEach(async () => { await new Promise(resolve => server?.close(resolve) ?? resolve(undefined)) })

  async function receiver (answer: (count: number) => { status: number, headers?: Record<string, string> }): Promise<{ url: string, seen: Array<{ headers: IncomingHttpHeaders, body: string, path: string }> }> {
    const seen: Array<{ headers: IncomingHttpHeaders, body: string, path: string }> = []
    server = createServer((req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => { body += chunk.toString() })
      req.on('end', () => {
        seen.push({ headers: req.headers, body, path: req.url ?? '' })
        const { status, headers } = answer(seen.length)
        res.writeHead(status, headers).end()
      })
    })
    await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, seen }
  }

  it('signs each attempt as Standard Webhooks specifies and retries 5xx', async () => {
    const { url, seen } = await receiver(n => ({ status: n === 1 ? 503 : 204 }))
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`
    const sender = createWebhookSender({ logger, secretOf: owner => owner === 'alice' ? secret : 'whsec_AAAA' }, { allowInsecure: true, baseDelayMs: 1 })
    expect(await sender.send(url, 'alice', event)).toBe(true)
    expect(seen).toHaveLength(2)
    for (const { headers, body } of seen) {
      expect(headers['webhook-id']).toBe('evt_1')
      const timestamp = Number(headers['webhook-timestamp'])
      const mac = createHmac('sha256', Buffer.from('0123456789abcdef0123456789abcdef')).update(`evt_1.${timestamp}.${body}`).digest('base64')
      expect(headers['webhook-signature']).toBe(`v1,${mac}`)
      expect(signWebhook(secret, 'evt_1', timestamp, body)).toBe(`v1,${mac}`)
      expect(JSON.parse(body)).toEqual(event)
    }
    sender.stop()
  })

  it('never follows a redirect and gives up on refusals', async () => {
    const { url, seen } = await receiver(() => ({ status: 302, headers: { location: 'http://127.0.0.1:1/admin/keys' } }))
    const sender = createWebhookSender({ logger }, { allowInsecure: true, baseDelayMs: 1 })
    expect(await sender.send(url, 'alice', event)).toBe(false)
    expect(seen.map(s => s.path)).toEqual(['/hook'])
    sender.stop()
  })

  it('does not send to loopback when insecure targets are not allowed', async () => {
    const { url, seen } = await receiver(() => ({ status: 200 }))
    const sender = createWebhookSender({ logger }, { baseDelayMs: 1 })
    await expect(sender.check(url)).rejects.toMatchObject({ code: 'invalid_webhook_url' })
    await expect(sender.check(url.replace('http:', 'https:'))).rejects.toMatchObject({ code: 'invalid_webhook_url' })
    expect(await sender.send(url.replace('http:', 'https:'), 'alice', event)).toBe(false)
    expect(seen).toEqual([])
    sender.stop()
  })
})
