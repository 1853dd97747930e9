import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import Dockerode from 'dockerode'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

/** Debian's chromium: `apt-get install -y chromium` (`.ci/run` installs it). */
const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // DNS rebinding in one flag: the attacker's name answers with the service's address.
  '--host-resolver-rules=MAP rebind.test 127.0.0.1',
]

/** What an attack page reports through `window.attackDone(...)`. */
type Report = { type?: string; status?: number; read?: string | null; error?: string }

/** The attacker's pages: each tries one trick against `target`, then reports what it saw. */
const attackPages = (
  target: string,
  config: Record<string, unknown>,
  formConfig: string,
): Record<string, string> => {
  const page = (script: string, body = '') =>
    `<!doctype html><html><body>${body}<script>const TARGET = ${JSON.stringify(target)}\n${script}</script></body></html>`
  return {
    '/no-cors': page(`
      fetch(TARGET + '/v1/workers', {
        mode: 'no-cors', method: 'POST', headers: { 'content-type': 'text/plain' },
        body: ${JSON.stringify(JSON.stringify(config))},
      }).then((r) => attackDone({ type: r.type, status: r.status }), (e) => attackDone({ error: String(e) }))`),
    // The classic: a text/plain form whose "name=value" line is a JSON object.
    '/form': page(
      `
      const frame = document.createElement('iframe')
      frame.name = 'sink'
      document.body.append(frame)
      frame.addEventListener('load', () => {
        let read = null
        try { read = frame.contentDocument ? frame.contentDocument.body.innerText : null } catch (e) { read = null }
        attackDone({ read })
      }, { once: true })
      document.forms[0].submit()`,
      `<form method="POST" enctype="text/plain" action="${target}/v1/workers" target="sink">` +
        `<input type="hidden" name='${formConfig}' value='"}}'></form>`,
    ),
    '/read': page(`
      fetch(TARGET + '/v1/workers').then((r) => r.text()).then(
        (text) => attackDone({ read: text }),
        (e) => attackDone({ read: null, error: String(e) }),
      )`),
    '/events': page(`
      const es = new EventSource(TARGET + '/v1/events')
      es.onmessage = (m) => { es.close(); attackDone({ read: m.data }) }
      es.onerror = () => { es.close(); attackDone({ read: null, error: 'EventSource error' }) }`),
  }
}

describe('a web page cannot drive the default setup (loopback, no API token)', () => {
  const instance = `browser-${randomBytes(3).toString('hex')}`
  const run = randomBytes(4).toString('hex')
  const docker = new Dockerode()
  let spawner: SpawnerProcess
  let attacker: Server
  let attackerOrigin: string
  let target: string

  /** Containers carrying this run's attack label, as the Docker Engine sees them. */
  const attackContainers = () =>
    docker.listContainers({ all: true, filters: { label: [`attack-run=${run}`] } })
  /** Workers carrying this run's attack label, as the service lists them. */
  const attackWorkers = async () => {
    const res = await fetch(`${target}/v1/workers?label=attack-run=${run}`)
    expect(res.status).toBe(200)
    return ((await res.json()) as { workers: unknown[] }).workers
  }
  /** Resolves with `count` access log lines matching, from line `since` on, as the process writes them. */
  const accessLogged = (
    since: number,
    match: (l: Record<string, unknown>) => boolean,
    count: number,
  ) =>
    new Promise<Record<string, unknown>[]>((resolve) => {
      const check = () => {
        const hits = spawner.logs.slice(since).filter((l) => l.msg === 'http' && match(l))
        if (hits.length < count) return false
        spawner.child.stdout!.off('data', check)
        resolve(hits)
        return true
      }
      if (!check()) spawner.child.stdout!.on('data', check)
    })

  let launched: Promise<Browser> | undefined
  /** The browser, started on first use: without chromium each test fails, naming what to install. */
  const newPage = async (): Promise<Page> => {
    launched ??= existsSync(CHROMIUM)
      ? chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
      : Promise.reject(
          new Error(
            `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, or bash .ci/run)`,
          ),
        )
    return (await launched).newPage()
  }

  /** Opens an attack page and waits for it to call `attackDone`. */
  const attack = async (path: string): Promise<Report> => {
    const page = await newPage()
    try {
      let done!: (r: Report) => void
      const report = new Promise<Report>((resolve) => (done = resolve))
      await page.exposeFunction('attackDone', (r: Report) => done(r))
      await page.goto(`${attackerOrigin}${path}`)
      return await report
    } finally {
      await page.close()
    }
  }

  beforeAll(async () => {
    // Debug level: the access log shows that the service itself answered each attack.
    spawner = await startSpawner({ SPAWNER_INSTANCE: instance, WORKER_IMAGE, LOG_LEVEL: 'debug' })
    target = `http://127.0.0.1:${spawner.port}`
    const config = { agent: 'shell', labels: { 'attack-run': run, attack: 'no-cors' } }
    const formConfig = `{"agent":"shell","labels":{"attack-run":"${run}","attack":"form","pad":"`
    const pages = attackPages(target, config, formConfig)
    attacker = createServer((req, res) => {
      const html = pages[req.url ?? '']
      res.writeHead(html ? 200 : 404, { 'content-type': 'text/html' }).end(html ?? '')
    })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    // Another origin, and another site, than the service's 127.0.0.1.
    attackerOrigin = `http://localhost:${(attacker.address() as { port: number }).port}`
  })

  afterAll(async () => {
    await launched?.then(
      (b) => b.close(),
      () => undefined,
    )
    await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)))
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
  })

  it('refuses a cross-site no-cors POST and a text/plain form POST: no worker is created', async () => {
    const since = spawner.logs.length
    const noCors = await attack('/no-cors')
    expect(noCors).toEqual({ type: 'opaque', status: 0 })
    const form = await attack('/form')
    expect(form).toEqual({ read: null })

    // Both reached the service (answered, so any create is done): nothing exists, it refused them.
    const answered = await accessLogged(
      since,
      (l) => l.method === 'POST' && l.path === '/v1/workers',
      2,
    )
    expect((await attackContainers()).map((c) => c.Labels.attack)).toEqual([])
    expect(await attackWorkers()).toEqual([])
    expect(answered.map((l) => l.status)).toEqual([403, 403])
  })

  it('lets a cross-site page read nothing: not the worker list, not the event stream', async () => {
    const since = spawner.logs.length
    const read = await attack('/read')
    expect(read.read).toBeNull()
    expect(read.error).toMatch(/TypeError/)
    const events = await attack('/events')
    expect(events).toEqual({ read: null, error: 'EventSource error' })
    const answered = await accessLogged(
      since,
      (l) => l.method === 'GET' && (l.path === '/v1/workers' || l.path === '/v1/events'),
      2,
    )
    expect(answered.map((l) => l.status)).toEqual([403, 403])
  })

  it('refuses a rebound name, even for same-origin requests from it', async () => {
    const page = await newPage()
    try {
      const origin = `http://rebind.test:${spawner.port}`
      const nav = await page.goto(`${origin}/healthz`)
      expect(nav?.status()).toBe(403)
      // The attacker's script now runs in the rebound origin: its requests are same-origin.
      const config = { agent: 'shell', labels: { 'attack-run': run, attack: 'rebind' } }
      const result = await page.evaluate(async (body) => {
        const post = await fetch('/v1/workers', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
        const list = await fetch('/v1/workers')
        return {
          post: { status: post.status, body: await post.text() },
          list: { status: list.status, body: await list.text() },
        }
      }, JSON.stringify(config))
      expect(result.post.status).toBe(403)
      expect(JSON.parse(result.post.body).error.code).toBe('host_not_allowed')
      expect(result.list.status).toBe(403)
      expect(JSON.parse(result.list.body).error.code).toBe('host_not_allowed')
      expect(result.list.body).not.toContain('workers"')
    } finally {
      await page.close()
    }
    expect(await attackContainers()).toEqual([])
    expect(await attackWorkers()).toEqual([])
  })

  it('still serves its own /docs page, and same-origin calls from it', async () => {
    for (const origin of [target, `http://localhost:${spawner.port}`]) {
      const page = await newPage()
      try {
        await page.goto(`${origin}/docs`)
        // Swagger UI renders the operations from a same-origin fetch of /openapi.json.
        await page.waitForSelector('.opblock')
        const result = await page.evaluate(async () => {
          const plugins = await fetch('/v1/plugins')
          // Invalid on purpose: a same-origin POST gets through to validation, creates nothing.
          const post = await fetch('/v1/workers', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          })
          return {
            plugins: plugins.status,
            post: post.status,
            code: ((await post.json()) as { error: { code: string } }).error.code,
          }
        })
        expect(result).toEqual({ plugins: 200, post: 400, code: 'bad_request' })
      } finally {
        await page.close()
      }
    }
  })
})
