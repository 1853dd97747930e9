import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Dockerode from 'dockerode'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { launchChromium, watchProblems, type Problems } from './support/browser.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const SHOTS = fileURLToPath(new URL('../docs/screenshots/', import.meta.url))

describe('the dashboard, in a real browser, against the service as npm start runs it', () => {
  const instance = `ui-${randomBytes(3).toString('hex')}`
  const run = randomBytes(4).toString('hex')
  const token = `ui-token-${randomBytes(12).toString('hex')}`
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  let call: ReturnType<typeof spawnerClient>
  let browser: Browser
  let context: BrowserContext
  let problems: Problems
  let origin: string
  let workers: Page
  let workerId: string

  /** The row of a worker on the workers page, once it shows `state`. */
  const row = (id: string, state?: string) =>
    workers.locator(`tr[data-worker-id="${id}"]${state ? `[data-state="${state}"]` : ''}`)

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true })

  beforeAll(async () => {
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      WORKER_IMAGE,
      SPAWNER_API_TOKEN: token,
    })
    origin = `http://127.0.0.1:${spawner.port}`
    call = spawnerClient(spawner, token)
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1400, height: 800 } })
    problems = watchProblems(context)
  })

  afterAll(async () => {
    await browser?.close()
    await spawner?.kill()
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.instance}=${instance}`] },
    })
    for (const c of left)
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined)
  })

  it('asks for the token, and logs in with it', async () => {
    workers = await context.newPage()
    await workers.goto(`${origin}/ui?label=ui-run=${run}`)
    expect(new URL(workers.url()).pathname).toBe('/ui/login')
    await workers.fill('#token', token)
    await shot(workers, 'login')
    await workers.click('button[type=submit]')
    await workers.waitForURL(`${origin}/ui?label=ui-run=${run}`)
    await workers.waitForSelector('main[data-live="open"]')
    const cookies = await context.cookies()
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([
      ['spawner_session', true, 'Strict'],
    ])
    expect(cookies[0]!.value).not.toContain(token)
  })

  it('creates a shell worker from the form, and the workers page shows it live', async () => {
    const create = await context.newPage()
    await create.goto(`${origin}/ui/create`)
    await create.selectOption('#f-agent', 'shell')
    const labels = create.locator('[data-field="labels"]')
    await labels.locator('button.add').click()
    await labels.locator('.row input').nth(0).fill('ui-run')
    await labels.locator('.row input').nth(1).fill(run)
    const ttl = create.locator('[data-field="ttlSeconds"] input')
    await ttl.fill('7200')
    await shot(create, 'create')
    await create.click('#create')
    const link = create.locator('#created a.mono')
    await link.waitFor()
    workerId = (await link.textContent())!
    expect(workerId).toMatch(/^w-[a-f0-9]{16}$/)
    await create.close()

    // The workers page was open all along: the row comes from the event stream.
    await row(workerId, 'running').waitFor()
    const status = await call('GET', `/v1/workers/${workerId}`)
    expect(status.json.labels).toEqual({ 'ui-run': run })
    expect(status.json.ttlSeconds).toBe(7200)
    await shot(workers, 'workers')
  })

  it('pauses, resumes and extends it from its row', async () => {
    await row(workerId).locator('[data-action="pause"]').click()
    await row(workerId, 'paused').waitFor()
    await row(workerId).locator('[data-action="resume"]').click()
    await row(workerId, 'running').waitFor()
    await row(workerId).locator('[data-action="extend"]').click()
    await expect
      .poll(async () => (await call('GET', `/v1/workers/${workerId}`)).json.ttlSeconds)
      .toBe(10800)
  })

  it('lists the plugins with the workers using them, and the pools', async () => {
    const page = await context.newPage()
    await page.goto(`${origin}/ui/plugins`)
    const shell = page.locator('tr[data-plugin="shell"]')
    await shell.locator('summary').click()
    await shell.locator(`a[href="/ui/workers/${workerId}"]`).waitFor()
    await shot(page, 'plugins')
    await page.goto(`${origin}/ui/pools`)
    await page.locator('#pools p').waitFor()
    await page.close()
  })

  it('deletes it only once confirmed, and the row goes', async () => {
    await row(workerId).locator('[data-action="delete"]').click()
    await workers.locator('dialog.confirm button[value="cancel"]').click()
    expect((await call('GET', `/v1/workers/${workerId}`)).status).toBe(200)
    await row(workerId).locator('[data-action="delete"]').click()
    await workers.locator('dialog.confirm').waitFor()
    await shot(workers, 'delete-confirm')
    await workers.locator('dialog.confirm button[value="ok"]').click()
    await row(workerId).waitFor({ state: 'detached' })
    expect((await call('GET', `/v1/workers/${workerId}`)).status).toBe(404)
  })

  it('logs out: the pages ask for the token again, /v1 no longer takes the cookie', async () => {
    await workers.click('form.logout button')
    await workers.waitForURL(`${origin}/ui/login`)
    const status = await workers.evaluate(async () => (await fetch('/v1/workers')).status)
    expect(status).toBe(401)
    // That 401 was asked for; nothing else went wrong on any page.
    expect(problems.list).toEqual([
      `response: 401 GET ${origin}/v1/workers`,
      'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ])
  })
})
