import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Dockerode from 'dockerode'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, watchProblems, type Problems } from './support/browser.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const SHOTS = fileURLToPath(new URL('../docs/screenshots/', import.meta.url))
const PLUGINS = fileURLToPath(new URL('../plugins/', import.meta.url))

/** A plugin folder's index.ts: a capability named `name` that installs nothing. */
const capability = (name: string, extra = "version: '1.0.0',") =>
  `import { defineCapability } from 'workers-spawner/plugin'
export default defineCapability({ apiVersion: 'v1', name: '${name}', ${extra} description: 'added while the service runs' })
`

/** A plugins folder: the bundled shell and git, and one that fails to load. */
const pluginsDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-ui-plugins-'))
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  for (const name of ['shell', 'git'])
    cpSync(join(PLUGINS, name), join(dir, name), { recursive: true })
  mkdirSync(join(dir, 'broken'))
  writeFileSync(join(dir, 'broken', 'index.ts'), capability('broken', ''))
  return dir
}

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
  let plugins: string

  /** The row of a worker on the workers page, once it shows `state`. */
  const row = (id: string, state?: string) =>
    workers.locator(`tr[data-worker-id="${id}"]${state ? `[data-state="${state}"]` : ''}`)

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true })

  beforeAll(async () => {
    plugins = pluginsDir()
    spawner = await startSpawner({
      SPAWNER_INSTANCE: instance,
      WORKER_IMAGE,
      SPAWNER_API_TOKEN: token,
      PLUGINS_DIR: plugins,
      WARM_POOLS: 'shell=1',
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
    if (plugins) rmSync(plugins, { recursive: true, force: true })
    await removeInstanceContainers(docker, instance)
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

  it('offers a plugin added while the create page is open, without a reload', async () => {
    const page = await context.newPage()
    await page.goto(`${origin}/ui/create`)
    await page.locator('#f-capabilities input[value="git"]').waitFor()
    const name = `extra-${run}`
    mkdirSync(join(plugins, name))
    writeFileSync(join(plugins, name, 'index.ts'), capability(name))
    // What an operator does after adding a plugin with the watcher off.
    spawner.child.kill('SIGHUP')
    await page.locator(`#f-capabilities input[value="${name}"]`).waitFor()
    await page.close()
  })

  it('lists the plugins with their load errors and the workers using them, and the pools', async () => {
    const page = await context.newPage()
    await page.goto(`${origin}/ui/plugins`)
    const shell = page.locator('tr[data-plugin="shell"]')
    await shell.locator('summary').click()
    await shell.locator(`a[href="/ui/workers/${workerId}"]`).waitFor()
    await page.locator('#plugin-errors td', { hasText: 'broken' }).first().waitFor()
    await shot(page, 'plugins')
    await page.goto(`${origin}/ui/pools`)
    // The pool's container went to the worker created above; the pool fills again.
    await page.locator('tr[data-pool="shell"] td', { hasText: '1 / 1' }).waitFor()
    await shot(page, 'pools')
    await page.close()
  })

  it('keeps the logged-in cookie from pages of other origins, even on the same host', async () => {
    // Another port on 127.0.0.1 is the same site: a SameSite=Strict cookie goes along.
    const config = JSON.stringify({ agent: 'shell', labels: { 'ui-run': run, attack: 'yes' } })
    const html = `<!doctype html><script>
      const T = ${JSON.stringify(origin)}
      Promise.all([
        fetch(T + '/v1/workers', { method: 'POST', mode: 'no-cors', credentials: 'include',
          headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(config)} }).then(() => 'sent', String),
        fetch(T + '/v1/workers', { credentials: 'include' }).then((r) => r.text(), () => null),
        new Promise((resolve) => {
          const es = new EventSource(T + '/v1/events', { withCredentials: true })
          es.onmessage = (m) => { es.close(); resolve(m.data) }
          es.onerror = () => { es.close(); resolve(null) }
        }),
      ]).then(([post, read, events]) => attackDone({ post, read, events }))
    </script>`
    const attacker = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end(html),
    )
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    const before = problems.list.length
    const page = await context.newPage()
    try {
      let done!: (r: Record<string, unknown>) => void
      const report = new Promise<Record<string, unknown>>((resolve) => (done = resolve))
      await page.exposeFunction('attackDone', (r: Record<string, unknown>) => done(r))
      await page.goto(`http://127.0.0.1:${(attacker.address() as { port: number }).port}/`)
      expect(await report).toEqual({ post: 'sent', read: null, events: null })
    } finally {
      await page.close()
      await new Promise((resolve) => attacker.close(resolve))
    }
    const { json } = await call('GET', `/v1/workers?label=attack=yes`)
    expect(json.workers).toEqual([])
    // What the attack page logged is its own refusals, taken out of the problems of the rest.
    const refused = problems.list.splice(before)
    expect(refused.filter((p) => p.startsWith('response:'))).toEqual(
      expect.arrayContaining([`response: 403 POST ${origin}/v1/workers`]),
    )
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
