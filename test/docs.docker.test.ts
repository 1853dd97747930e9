import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

/** Debian's chromium: `apt-get install -y chromium` (`.ci/run` installs it). */
const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]
const SCREENSHOTS = fileURLToPath(new URL('../docs/screenshots/', import.meta.url))
const TOKEN = `docs-${randomBytes(12).toString('hex')}`

/** What went wrong on a page: console errors, uncaught exceptions, failed or refused requests. */
const watch = (page: Page) => {
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`))
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`)
  })
  return problems
}

describe('/docs in a browser', () => {
  let spawner: SpawnerProcess
  let browser: Browser
  let base: string

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, or bash .ci/run)`,
      )
    spawner = await startSpawner({
      SPAWNER_INSTANCE: `docs-${randomBytes(3).toString('hex')}`,
      WORKER_IMAGE,
      SPAWNER_API_TOKEN: TOKEN,
    })
    base = `http://127.0.0.1:${spawner.port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  })

  afterAll(async () => {
    await browser?.close()
    await spawner?.kill()
  })

  it('lists the operations and runs "list workers" from the page, authorized with the token', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const problems = watch(page)
    const requests: string[] = []
    page.on('request', (r) => requests.push(r.url()))

    const res = await page.goto(`${base}/docs`)
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'")
    const list = page.locator('#operations-default-list')
    await list.waitFor()
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20)

    // Authorize: the bearer scheme of the OpenAPI document takes the API token.
    await page.locator('.auth-wrapper .authorize').click()
    await page.locator('.modal-ux input[type="text"]').fill(TOKEN)
    await page.locator('.modal-ux .auth-btn-wrapper .authorize').click()
    await page.locator('.modal-ux .btn-done, .modal-ux .close-modal').first().click()

    await list.locator('.opblock-summary').click()
    const answered = page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/v1/workers' && r.request().method() === 'GET',
    )
    await list.locator('.execute').click()
    const response = await answered
    expect(response.status()).toBe(200)
    expect(response.request().headers().authorization).toBe(`Bearer ${TOKEN}`)
    // The page shows the answer it got.
    await list
      .locator('.live-responses-table tr.response .response-col_status', { hasText: '200' })
      .waitFor()

    await list.locator('.live-responses-table').scrollIntoViewIfNeeded()
    mkdirSync(SCREENSHOTS, { recursive: true })
    await page.screenshot({ path: `${SCREENSHOTS}docs.png`, fullPage: false })
    expect(problems).toEqual([])
    // Everything from this origin: no CDN.
    expect(requests.filter((u) => !u.startsWith(base) && !u.startsWith('data:'))).toEqual([])
    await page.close()
  })
})
