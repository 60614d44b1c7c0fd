import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { startCoordinatorProcess, startNodeProcess, tempDir, testModels } from '@dria/testkit'
import type { CoordinatorProcess, NodeProcess } from '@dria/testkit'
import { HAS_CHROMIUM, launchBrowser, openPage, screenshot } from './browser.js'
import type { WatchedPage } from './browser.js'

/** The web console and the network dashboard in headless Chromium, against a real coordinator and node. */

const models = await testModels()
const MODEL = models.main
const API_KEY = 'sk-console-e2e'
const ADMIN_TOKEN = 'admin-console-e2e'

function jsonl (count: number, prefix: string, maxTokens: number): string {
  return Array.from({ length: count }, (_, i) => JSON.stringify({
    custom_id: `${prefix}-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: MODEL, messages: [{ role: 'user', content: `Once upon a time ${i}` }], max_tokens: maxTokens }
  })).join('\n') + '\n'
}

/** Drops a file on the upload zone the way a browser does on a real drag and drop. */
async function dropFile (page: Page, name: string, content: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(([fileName, text]) => {
    const transfer = new DataTransfer()
    transfer.items.add(new File([text], fileName, { type: 'application/jsonl' }))
    return transfer
  }, [name, content] as const)
  await page.dispatchEvent('[data-testid=drop-zone]', 'dragover', { dataTransfer })
  await page.dispatchEvent('[data-testid=drop-zone]', 'drop', { dataTransfer })
}

async function signIn (page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('API key').fill(API_KEY)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByTestId('stream-state').filter({ hasText: 'live' }).waitFor()
}

/** Uploads `content` through the page, waits for a valid result and starts the batch; returns its id. */
async function startBatch (page: Page, name: string, content: string): Promise<string> {
  const before = new Set(await page.locator('tr[data-batch]').evaluateAll(rows => rows.map(r => r.getAttribute('data-batch'))))
  await dropFile(page, name, content)
  await page.getByTestId('validation').filter({ hasText: 'Valid' }).waitFor()
  await page.getByRole('button', { name: 'Start batch' }).click()
  const row = page.locator('tr[data-batch]').filter({ hasNot: page.locator('.never') })
  for (;;) {
    const ids = await row.evaluateAll(rows => rows.map(r => r.getAttribute('data-batch')))
    const created = ids.find(id => id !== null && !before.has(id))
    if (created !== undefined && created !== null) return created
    await page.waitForTimeout(50)
  }
}

async function apiGet<T = any> (url: string, path: string, secret = API_KEY): Promise<T> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${secret}` } })
  expect(response.status, path).toBe(200)
  return await response.json() as T
}

describe.skipIf(!HAS_CHROMIUM)('web console and network dashboard in Chromium', () => {
  let coordinator: CoordinatorProcess
  let node: NodeProcess
  let browser: Browser
  let dir: { path: string, remove: () => Promise<void> }
  let current: WatchedPage | undefined

  beforeAll(async () => {
    dir = await tempDir('dria-console-e2e-')
    ;[coordinator, browser] = await Promise.all([
      // One node: nobody could check its results, so they are accepted unchecked.
      startCoordinatorProcess({ dataDir: join(dir.path, 'coordinator'), apiKeys: [API_KEY], args: ['--admin-token', ADMIN_TOKEN, '--accept-unverified'] }),
      launchBrowser()
    ])
    node = await startNodeProcess({
      dataDir: join(dir.path, 'node'),
      bootstrap: coordinator.multiaddrs,
      args: ['--models-dir', models.dir, '--models', MODEL, '--slots', '2']
    })
    for (let i = 0; i < 150; i++) {
      const nodes = await apiGet<{ data: Array<{ peer_id: string, models: unknown[] }> }>(coordinator.url, '/api/v0/network/nodes')
      if (nodes.data.some(n => n.peer_id === node.peerId && n.models.length > 0)) return
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    throw new Error('the coordinator never listed the node')
  })

  afterAll(async () => {
    await browser?.close()
    await Promise.all([node?.stop(), coordinator?.stop()])
    await dir?.remove()
  })

  /** Every page a test opened must have had no console error, exception or failed request. */
  afterEach(async () => {
    const page = current
    current = undefined
    if (page === undefined) return
    await page.close()
    expect(page.problems).toEqual([])
  })

  const open = async (options?: Parameters<typeof openPage>[1]): Promise<WatchedPage> => {
    current = await openPage(browser, options)
    return current
  }

  it('signs in, validates an upload with line numbers, runs a batch live and downloads its output', async () => {
    const watched = await open()
    const { page } = watched
    await page.goto(coordinator.url)
    await watched.expecting(/status of 401/, async () => {
      await page.getByLabel('API key').fill('sk-wrong')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('alert').filter({ hasText: 'invalid_api_key' }).waitFor()
    })
    await page.getByLabel('API key').fill(API_KEY)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByTestId('stream-state').filter({ hasText: 'live' }).waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('dria.api_key'))).toBe(API_KEY)
    expect(await page.evaluate(() => localStorage.length)).toBe(0)
    await page.evaluate(() => { (window as unknown as { stayed: boolean }).stayed = true })

    // A file big enough to watch its upload progress through a throttled connection, with a broken line 2.
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 200 * 1024 })
    const broken = jsonl(3000, 'bad', 8).split('\n')
    broken[1] = '{"custom_id": "bad-1", "method": "POST"'
    await dropFile(page, 'broken.jsonl', broken.join('\n'))
    await page.waitForFunction(() => {
      const bar = document.querySelector<HTMLProgressElement>('[data-testid=upload-progress]')
      return bar !== null && bar.value > 0 && bar.value < bar.max
    })
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
    const invalid = page.getByTestId('validation')
    await invalid.filter({ hasText: 'problem' }).waitFor({ timeout: 30_000 })
    expect(await invalid.locator('tbody tr').first().innerText()).toMatch(/^2\s+invalid_json_line/)
    expect(await page.getByRole('button', { name: 'Start batch' }).isDisabled()).toBe(true)
    await screenshot(page, 'console-validation-errors')

    await page.getByPlaceholder('key (e.g. model)').fill('project')
    await page.getByPlaceholder('value').fill('console-e2e')
    const lines = 40
    const id = await startBatch(page, 'prompts.jsonl', jsonl(lines, 'ok', 48))
    const row = page.locator(`tr[data-batch="${id}"]`)
    // Every count the row shows on its way, to prove it moved live.
    await row.evaluate(element => {
      const seen: string[] = []
      ;(window as unknown as { seen: string[] }).seen = seen
      new MutationObserver(() => { seen.push(element.querySelector('[data-testid=counts]')?.textContent ?? '') })
        .observe(element, { subtree: true, childList: true, characterData: true })
    })
    await page.locator(`tr[data-batch="${id}"][data-status="completed"]`).waitFor({ timeout: 90_000 })
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen)
    const done = seen.map(text => Number(/^(\d+) done/.exec(text)?.[1] ?? -1))
    expect(done.some(n => n > 0 && n < lines), seen.join(' | ')).toBe(true)
    expect(await row.getByTestId('counts').innerText()).toBe(`${lines} done · 0 failed · ${lines} total`)
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true)
    const batch = await apiGet(coordinator.url, `/v1/batches/${id}`)
    expect(batch.metadata).toEqual({ project: 'console-e2e' })
    expect(batch.usage.total_tokens).toBeGreaterThan(0)
    expect(await row.locator('td[data-label=Tokens]').innerText()).toContain(batch.usage.total_tokens.toLocaleString('en-US'))
    await screenshot(page, 'console-batch-completed')

    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Output' }).click()])
    expect(download.suggestedFilename()).toBe(`${id}_output.jsonl`)
    const output = (await readFile((await download.path())!, 'utf8')).trim().split('\n').map(line => JSON.parse(line))
    expect(output.map(line => line.custom_id).sort()).toEqual(Array.from({ length: lines }, (_, i) => `ok-${i}`).sort())
    expect(output.every(line => line.response.status_code === 200)).toBe(true)
  })

  it('cancels a running batch and hands back what finished', async () => {
    const { page } = await open()
    await signIn(page, coordinator.url)
    const lines = 400
    const id = await startBatch(page, 'long.jsonl', jsonl(lines, 'long', 64))
    const row = page.locator(`tr[data-batch="${id}"]`)
    await page.waitForFunction(batchId => {
      const counts = document.querySelector(`tr[data-batch="${batchId}"] [data-testid=counts]`)?.textContent ?? ''
      return Number(/^(\d+) done/.exec(counts)?.[1] ?? 0) > 0
    }, id, { timeout: 60_000 })
    await row.getByRole('button', { name: 'Cancel' }).click()
    await page.locator(`tr[data-batch="${id}"][data-status="cancelled"]`).waitFor({ timeout: 60_000 })
    await screenshot(page, 'console-batch-cancelled')
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Errors' }).click()])
    const errors = (await readFile((await download.path())!, 'utf8')).trim().split('\n').map(line => JSON.parse(line))
    const batch = await apiGet(coordinator.url, `/v1/batches/${id}`)
    expect(batch.status).toBe('cancelled')
    expect(errors.length).toBe(batch.request_counts.failed)
    expect(errors.every(line => line.error?.code === 'batch_cancelled')).toBe(true)
    expect(batch.request_counts.completed + batch.request_counts.failed).toBe(lines)
    expect(batch.request_counts.completed).toBeGreaterThan(0)
  })

  it('creates a key shown once, lists it with its usage and revokes it', async () => {
    const watched = await open()
    const { page } = watched
    await page.goto(`${coordinator.url}/#admin`)
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByLabel('key name').fill('alice')
    await page.getByLabel('plan').selectOption('developer')
    await page.getByRole('button', { name: 'Create key' }).click()
    const key = await page.getByTestId('new-key').innerText()
    expect(key).toMatch(/^sk-dria-/)
    const listed = page.locator('tr[data-key]').filter({ hasText: 'alice' })
    await listed.waitFor()
    expect(await listed.locator('td[data-label=Plan]').innerText()).toBe('developer')
    expect(await listed.locator('td[data-label=Key]').innerText()).toBe(`${key.slice(0, 12)}…`)
    await screenshot(page, 'console-admin-key-created')
    // The key works, and what it does shows up as its usage.
    const upload = new FormData()
    upload.append('purpose', 'batch')
    upload.append('file', new Blob([jsonl(2, 'alice', 4)]), 'alice.jsonl')
    const file = await (await fetch(`${coordinator.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: upload })).json() as { id: string }
    const created = await fetch(`${coordinator.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    })
    expect(created.status).toBe(200)
    await page.reload()
    await listed.locator('td[data-label=Batches]').filter({ hasText: '1' }).waitFor()
    await listed.getByRole('button', { name: 'Revoke' }).click()
    await listed.getByRole('button', { name: 'Confirm revoke' }).click()
    await listed.waitFor({ state: 'detached' })
    expect((await fetch(`${coordinator.url}/v1/batches`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401)
  })

  it('shows the live node with its models, slots and verified counts, updated as work completes', async () => {
    const { page } = await open()
    await page.goto(`${coordinator.url}/network`)
    const row = page.locator(`tr[data-peer="${node.peerId}"]`)
    await row.waitFor()
    const [status] = (await apiGet<{ data: any[] }>(coordinator.url, '/api/v0/network/nodes')).data
    expect(await row.locator('td[data-label=Models]').innerText()).toContain(MODEL)
    expect(await row.locator(`code[title="${status.models[0].digest}"]`).count()).toBe(1)
    expect(await row.getByTestId('node-slots').innerText()).toMatch(/^\d+ \/ 2 busy$/)
    expect(await page.getByTestId('nodes-live').innerText()).toBe('1')
    expect(await page.locator(`tr[data-model="${MODEL}"] td[data-label=Nodes]`).innerText()).toBe('1')
    expect(await page.locator('canvas').count()).toBe(2)
    const verifiedBefore = Number((await row.getByTestId('node-verified').innerText()).replace(/,/g, ''))
    expect(verifiedBefore).toBeGreaterThanOrEqual(40)

    // More work: the page follows it without a reload.
    const upload = new FormData()
    upload.append('purpose', 'batch')
    upload.append('file', new Blob([jsonl(5, 'net', 16)]), 'net.jsonl')
    const file = await (await fetch(`${coordinator.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: upload })).json() as { id: string }
    await fetch(`${coordinator.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
    })
    await page.waitForFunction(([peer, before]) => {
      const text = document.querySelector(`tr[data-peer="${peer}"] [data-testid=node-verified]`)?.textContent ?? '0'
      return Number(text.replace(/,/g, '')) >= before + 5
    }, [node.peerId, verifiedBefore] as const, { timeout: 60_000 })
    await screenshot(page, 'network-dashboard')
  })

  it('fits a phone screen', async () => {
    const { page } = await open({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    await signIn(page, coordinator.url)
    await page.locator('tr[data-batch]').first().waitFor()
    const overflow = async (): Promise<number> => await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(await overflow()).toBeLessThanOrEqual(0)
    // Table rows turn into labelled cards.
    expect(await page.locator('table[data-testid=batches] thead').isVisible()).toBe(false)
    expect(await page.locator('tr[data-batch] td[data-label=Status]').first().evaluate(td => getComputedStyle(td, '::before').content)).toBe('"Status"')
    await screenshot(page, 'console-phone')
    await page.goto(`${coordinator.url}/network`)
    await page.locator(`tr[data-peer="${node.peerId}"]`).waitFor()
    expect(await overflow()).toBeLessThanOrEqual(0)
    await screenshot(page, 'network-phone')
  })
})
