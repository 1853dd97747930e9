import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, watchProblems, type Problems } from './support/browser.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const SHOTS = join(import.meta.dirname, '..', 'docs', 'screenshots')

/**
 * The worker page in a real browser, against the service as `npm start` runs it, with an API
 * token (so every call the page makes rides on the login's cookie): chat with a `shell`
 * worker, upload a file and download it back, see its events; approve nothing. No console
 * error, no failed request, no refused call; a screenshot of each tab.
 */
describe('the worker page', () => {
  const instance = `ui-worker-${randomBytes(3).toString('hex')}`
  const token = randomBytes(24).toString('hex')
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  let browser: Browser | undefined
  let page: Page
  let workerId: string
  let origin: string
  let problems: Problems

  beforeAll(async () => {
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      WORKER_IMAGE,
      SPAWNER_API_TOKEN: token,
    })
    origin = `http://127.0.0.1:${spawner.port}`
    const call = spawnerClient(spawner, token)
    const created = await call('POST', '/v1/workers', { agent: 'shell', labels: { ui: instance } })
    expect(created.status, JSON.stringify(created.json)).toBe(201)
    workerId = created.json.workerId
    browser = await launchChromium()
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1280, height: 860 },
    })
    problems = watchProblems(context)
    page = await context.newPage()
    mkdirSync(SHOTS, { recursive: true })
  })

  afterAll(async () => {
    await browser?.close()
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })

  const tab = (name: string) => page.click(`nav.tabs button[data-tab="${name}"]`)

  it('logs in and opens the worker on its chat', async () => {
    await page.goto(`${origin}/ui/workers/${workerId}`)
    expect(new URL(page.url()).pathname).toBe('/ui/login')
    await page.fill('#token', token)
    await page.click('button[type=submit]')
    await page.waitForURL(`${origin}/ui/workers/${workerId}`)
    await page.waitForSelector('.status-card .state-running')
    await page.waitForSelector('.chat-form textarea')
  })

  it('chats: the shell agent runs the prompt and its output is the reply', async () => {
    await page.fill('.chat-form textarea', 'echo hi')
    await page.click('.chat-form button[type=submit]')
    const reply = page.locator('.turn.live .reply:not(.pending)')
    await reply.waitFor()
    expect(await reply.textContent()).toBe('hi')
    expect(await page.locator('.turn.live .usage').textContent()).toMatch(/ s$/)
    // The first turn is in the transcript after a reload.
    await page.reload()
    await page.locator('.turn[data-n="1"] .reply', { hasText: 'hi' }).waitFor()
    // The events tab follows from the page's load on: this turn's events are there.
    await page.fill('.chat-form textarea', 'echo again')
    await page.click('.chat-form button[type=submit]')
    await page.locator('.turn.live .reply:not(.pending)', { hasText: 'again' }).waitFor()
    await page.screenshot({ path: join(SHOTS, 'worker-chat.png') })
  })

  it('uploads a file into the workdir and downloads the same bytes back', async () => {
    await tab('files')
    await page.waitForSelector('.panel-files table.files tr')
    const bytes = Buffer.from(`hello from the browser ${instance}\n`)
    await page.setInputFiles('.panel-files input[name=upload]', {
      name: 'hello.txt',
      mimeType: 'text/plain',
      buffer: bytes,
    })
    const row = page.locator('.panel-files tr[data-name="hello.txt"]')
    await row.waitFor()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('a', { hasText: 'Download' }).click(),
    ])
    expect(download.suggestedFilename()).toBe('hello.txt')
    expect(readFileSync((await download.path())!)).toEqual(bytes)
    // Viewed in the page as text.
    await row.locator('td a').first().click()
    await page.locator('.viewer pre.file-text', { hasText: 'hello from the browser' }).waitFor()
    await page.screenshot({ path: join(SHOTS, 'worker-files.png') })
  })

  it("shows the worker's events, its logs, its checkpoints; nothing waits for approval", async () => {
    await tab('events')
    await page.locator('.panel-events li[data-type="command_exit"]').first().waitFor()
    await page.screenshot({ path: join(SHOTS, 'worker-events.png') })
    await tab('logs')
    await page.waitForSelector('.panel-logs pre.logs')
    await tab('permissions')
    await page.locator('.panel-permissions', { hasText: 'does not ask' }).waitFor()
    await tab('checkpoints')
    await page.locator('.panel-checkpoints', { hasText: 'No checkpoints yet' }).waitFor()
    await page.screenshot({ path: join(SHOTS, 'worker-checkpoints.png') })
    expect(problems.list).toEqual([])
  })

  it('builds the terminal with the vendored xterm.js under the page CSP', async () => {
    const before = problems.list.length
    await tab('terminal')
    await page.waitForSelector('.panel-terminal .xterm .xterm-screen')
    // Sized by the fit addon: xterm's own styles apply (its rows have a height).
    const rows = await page.$eval('.panel-terminal .xterm-rows', (el) => el.clientHeight)
    expect(rows).toBeGreaterThan(100)
    await page.locator('.panel-terminal', { hasText: 'connected' }).waitFor()
    // Typed once the shell shows its prompt, so the line is not echoed before it.
    await page.waitForFunction(() =>
      document.querySelector('.panel-terminal .xterm-rows')?.textContent?.includes('$'),
    )
    await page.click('.panel-terminal .xterm')
    await page.keyboard.type('echo hi\n')
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.panel-terminal .xterm-rows > div')).some(
        (row) => row.textContent?.trim() === 'hi',
      ),
    )
    const others = problems.list.slice(before)
    await page.screenshot({ path: join(SHOTS, 'worker-terminal.png') })
    expect(others).toEqual([])
  })

  it('links the ports the worker serves, and opens a preview', async () => {
    const before = problems.list.length
    const call = spawnerClient(spawner, token)
    const started = await call('POST', `/v1/workers/${workerId}/commands`, {
      shell: 'cd /tmp && nohup python3 -m http.server 8123 >/dev/null 2>&1 & echo started',
    })
    expect(started.json.stdout).toBe('started\n')
    await tab('previews')
    // The server may take a moment to listen: the tab's Refresh asks again.
    const link = page.locator('.panel-previews a', { hasText: ':8123' })
    while (!(await link.count())) {
      await page.click('.panel-previews button:has-text("Refresh")')
      await page.waitForSelector('.panel-previews .toolbar, .panel-previews p')
    }
    await page.screenshot({ path: join(SHOTS, 'worker-previews.png') })
    // Opened as the operator opens it: a click, in a new tab, with the login's cookie.
    const [preview] = await Promise.all([page.context().waitForEvent('page'), link.click()])
    await preview.locator('body', { hasText: 'Directory listing' }).waitFor()
    await preview.close()
    const others = problems.list.slice(before)
    expect(others).toEqual([])
  })
})
