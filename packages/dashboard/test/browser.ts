import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'

/** Debian's chromium (`apt-get install -y chromium`); `.ci/run` installs it when missing. */
export const CHROMIUM = process.env.DRIA_CHROMIUM ?? '/usr/bin/chromium'
export const HAS_CHROMIUM = existsSync(CHROMIUM)

/** Screenshots of every run land here (gitignored). */
export const SCREENSHOTS_DIR = fileURLToPath(new URL('../screenshots/', import.meta.url))

/**
 * Headless Chromium for tests on a machine without a network: no background or component
 * traffic. Playwright gives every launch a fresh temporary --user-data-dir of its own.
 */
export async function launchBrowser (): Promise<Browser> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true })
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

export interface WatchedPage {
  page: Page
  /** Console errors, uncaught exceptions and failed requests the page had (less the expected ones). */
  problems: string[]
  /** Runs `step`, during which console errors matching `pattern` are expected (e.g. the 401 of a wrong key). */
  expecting<T>(pattern: RegExp, step: () => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** A page in a fresh context that records everything that went wrong in it. */
export async function openPage (browser: Browser, options: BrowserContextOptions = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ acceptDownloads: true, ...options })
  const page = await context.newPage()
  const problems: string[] = []
  const expected: RegExp[] = []
  page.on('console', message => {
    if (message.type() === 'error' && !expected.some(pattern => pattern.test(message.text()))) problems.push(`console: ${message.text()}`)
  })
  page.on('pageerror', err => { problems.push(`exception: ${err.message}`) })
  page.on('requestfailed', request => {
    // Streams the page itself closes (navigation, sign-out) end as aborted requests.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`)
  })
  return {
    page,
    problems,
    async expecting (pattern, step) {
      expected.push(pattern)
      try {
        return await step()
      } finally {
        // Console messages arrive asynchronously: let the ones of this step come in first.
        await page.evaluate(async () => { await new Promise(resolve => setTimeout(resolve, 100)) })
        expected.splice(expected.indexOf(pattern), 1)
      }
    },
    close: async () => { await context.close() }
  }
}

export async function screenshot (page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS_DIR}${name}.png`, fullPage: true })
}
