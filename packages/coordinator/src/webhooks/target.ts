import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import { DriaError } from '@dria/protocol'

/**
 * Where webhooks may go. Public addresses only: a webhook URL is chosen by any API key, and
 * the coordinator must not become a way to reach its own admin API, a cloud metadata service
 * or anything else on its private network.
 */
const BLOCKED = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) BLOCKED.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6')

/** IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`, NAT64 `64:ff9b::7f00:1`) are judged as IPv4. */
function embeddedIpv4 (address: string): string | undefined {
  const lower = address.toLowerCase()
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (dotted !== null) return dotted[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
  if (hex === null) return undefined
  const high = parseInt(hex[1], 16)
  const low = parseInt(hex[2], 16)
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
}

export function isPublicAddress (address: string): boolean {
  const v4 = embeddedIpv4(address)
  if (v4 !== undefined) return !BLOCKED.check(v4, 'ipv4')
  const family = isIP(address)
  if (family === 0) return false
  return !BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** `retryable`: the name did not resolve, which may pass. */
function refused (message: string, retryable = false): DriaError {
  return new DriaError('invalid_webhook_url', message, { param: 'webhook_url', retryable })
}

export interface TargetPolicy {
  /** Allows `http://` and loopback/private addresses (tests and closed networks). */
  allowInsecure: boolean
}

/** A checked webhook URL and the address to connect to (resolved once, so it cannot change under us). */
export interface WebhookTarget {
  url: URL
  address: string
  family: 4 | 6
}

/** Checks a webhook URL's form: https (http only when allowed), a host, no credentials. */
export function parseWebhookUrl (text: string, policy: TargetPolicy): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw refused('webhook_url must be an absolute https URL.')
  }
  const schemes = policy.allowInsecure ? ['https:', 'http:'] : ['https:']
  if (!schemes.includes(url.protocol)) throw refused(`webhook_url must use ${policy.allowInsecure ? 'https or http' : 'https'}, not '${url.protocol.replace(/:$/, '')}'.`)
  if (url.username !== '' || url.password !== '') throw refused('webhook_url must not carry credentials.')
  if (url.hostname === '') throw refused('webhook_url has no host.')
  return url
}

/**
 * Resolves a webhook URL and checks every address it resolves to: one private address is
 * enough to refuse it (a name that mixes public and private answers is a rebinding attempt).
 */
export async function resolveWebhookTarget (text: string, policy: TargetPolicy): Promise<WebhookTarget> {
  const url = parseWebhookUrl(text, policy)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let addresses: Array<{ address: string, family: number }>
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }]
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true })
    } catch {
      throw refused(`webhook_url's host '${host}' cannot be resolved.`, true)
    }
  }
  if (addresses.length === 0) throw refused(`webhook_url's host '${host}' cannot be resolved.`, true)
  if (!policy.allowInsecure) {
    const blocked = addresses.find(a => !isPublicAddress(a.address))
    if (blocked !== undefined) throw refused(`webhook_url resolves to ${blocked.address}, which is not a public address.`)
  }
  return { url, address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 }
}
