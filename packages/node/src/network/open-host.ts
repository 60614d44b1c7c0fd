import { createDriaHost } from '@dria/p2p'
import type { DriaHost, DriaHostInit } from '@dria/p2p'
import { listenError } from './addresses.js'

/**
 * Starts the libp2p host and, at the same time, whatever else start-up needs (the engine):
 * overlapping them shortens time-to-advertised. If either fails, the other is closed and the
 * first failure (a listen error as what to do about it) is thrown.
 */
export async function openHostWith<T> (init: DriaHostInit & { listenHost: string, listenPort: number }, other: Promise<T>, closeOther: (value: T) => Promise<void>): Promise<{ host: DriaHost, other: T }> {
  const [hosted, opened] = await Promise.allSettled([
    createDriaHost(init).catch(err => { throw listenError(err, init.listenHost, init.listenPort) }),
    other
  ])
  if (hosted.status === 'fulfilled' && opened.status === 'fulfilled') return { host: hosted.value, other: opened.value }
  await Promise.allSettled([
    hosted.status === 'fulfilled' ? hosted.value.stop() : undefined,
    opened.status === 'fulfilled' ? closeOther(opened.value) : undefined
  ])
  throw hosted.status === 'rejected' ? hosted.reason : (opened as PromiseRejectedResult).reason
}
