import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import Dockerode from 'dockerode'
import { chromium, type Browser } from 'playwright-core'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PREVIEW_CSP } from '../src/http/preview.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { ATTACK_PAGE, PREVIEW_SERVER } from './support/preview-server.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

const PORT = 8123
const TOKEN = randomBytes(24).toString('hex')
const docker = new Dockerode()

/** A spawner process of its own instance, removed with its containers afterwards. */
const spawnerFor = async (env: Record<string, string> = {}) => {
  const instance = `previews-${randomBytes(3).toString('hex')}`
  const p = await startSpawner({ SPAWNER_INSTANCE: instance, WORKER_IMAGE, ...env })
  const cleanup = async () => {
    await p.kill()
    await removeInstanceContainers(docker, instance)
  }
  return { p, cleanup }
}

type Call = ReturnType<typeof spawnerClient>

/** Creates a shell worker running the preview server on PORT; resolves once it listens. */
const workerServing = async (call: Call, allowedTools: string[] = ['preview']) => {
  const created = await call('POST', '/v1/workers', {
    agent: 'shell',
    allowedTools,
    files: { 'srv.js': PREVIEW_SERVER, 'attack.html': ATTACK_PAGE },
  })
  expect(created.status, JSON.stringify(created.json)).toBe(201)
  const id = created.json.workerId as string
  // Started in its own session, so the command ends while the server keeps running.
  const started = await call('POST', `/v1/workers/${id}/commands`, {
    shell:
      `setsid node srv.js ${PORT} >/tmp/srv.log 2>&1 </dev/null & ` +
      `while [ ! -e /tmp/ready-${PORT} ]; do sleep 0.05; done`,
    timeoutMs: 60_000,
  })
  expect(started.json.exitCode, JSON.stringify(started.json)).toBe(0)
  return id
}

/** The worker's token, as its agent reads it. */
const tokenOf = async (call: Call, id: string) => {
  const res = await call('POST', `/v1/workers/${id}/commands`, {
    shell: 'printf %s "$ORCHESTRATOR_TOKEN"',
  })
  expect(res.json.exitCode, JSON.stringify(res.json)).toBe(0)
  return res.json.stdout.trim() as string
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('previews of what a worker serves, through the service (API token set)', () => {
  let spawner: { p: SpawnerProcess; cleanup: () => Promise<void> }
  let call: Call
  let base: string
  let id: string
  let other: string
  const auth = { authorization: `Bearer ${TOKEN}` }
  const prefix = () => `/v1/workers/${id}/ports/${PORT}`
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { ...auth, ...init.headers } })

  beforeAll(async () => {
    spawner = await spawnerFor({ SPAWNER_API_TOKEN: TOKEN })
    call = spawnerClient(spawner.p, TOKEN)
    base = `http://127.0.0.1:${spawner.p.port}`
    ;[id, other] = await Promise.all([workerServing(call), workerServing(call)])
  }, 180_000)
  afterAll(async () => {
    await spawner?.cleanup()
  })

  it('lists the ports the worker listens on', async () => {
    const res = await call('GET', `/v1/workers/${id}/ports`)
    expect(res.status).toBe(200)
    expect(res.json.ports).toContainEqual({
      port: PORT,
      addresses: ['0.0.0.0'],
      path: `${prefix()}/`,
    })
    expect(res.json.ports.map((p: { port: number }) => p.port)).not.toContain(PORT + 1)
  })

  it('forwards a GET: status, body and headers, sandboxed, path and query kept', async () => {
    const res = await get(`${prefix()}/status/418?x=1`)
    expect(res.status).toBe(418)
    expect(await res.text()).toBe('status')
    expect(res.headers.get('x-served-by')).toBe('srv')
    expect(res.headers.get('content-security-policy')).toBe(PREVIEW_CSP)

    const echo = await (
      await get(`${prefix()}/echo?a=b&c=%2F`, { headers: { cookie: 'k=v' } })
    ).json()
    expect(echo).toMatchObject({ method: 'GET', url: '/echo?a=b&c=%2F', length: 0 })
    // The service's credentials stay with the service; the server learns where it is served.
    expect(echo.headers.authorization).toBeUndefined()
    expect(echo.headers.cookie).toBeUndefined()
    expect(echo.headers.host).toBe(`localhost:${PORT}`)
    expect(echo.headers['x-forwarded-prefix']).toBe(prefix())
  })

  it('streams a POST body in and a binary body out, whole', async () => {
    const body = randomBytes(3 * 1024 * 1024)
    const res = await get(`${prefix()}/echo`, { method: 'POST', body })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      method: 'POST',
      length: body.length,
      sha256: sha256(body),
    })
    const n = 5 * 1024 * 1024 + 7
    const expected = Buffer.alloc(n)
    for (let i = 0; i < n; i++) expected[i] = i % 251
    const bytes = new Uint8Array(await (await get(`${prefix()}/bytes?n=${n}`)).arrayBuffer())
    expect(bytes.length).toBe(n)
    expect(sha256(bytes)).toBe(sha256(expected))
  })

  it('streams a response as the server writes it, not once it has ended', async () => {
    const res = await get(`${prefix()}/stream`)
    const reader = res.body!.getReader()
    const first = await reader.read()
    // The server writes the rest only after /release: the first part came through alone.
    expect(new TextDecoder().decode(first.value)).toBe('first\n')
    expect(await (await get(`${prefix()}/release`)).text()).toBe('released')
    let rest = ''
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value)
    expect(rest).toBe('second\n')
  })

  it("drops the server's cookies, CORS grants and Clear-Site-Data; keeps redirects under the prefix", async () => {
    const res = await get(`${prefix()}/cookie`)
    expect(res.status).toBe(200)
    expect(res.headers.getSetCookie()).toEqual([])
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
    expect(res.headers.get('clear-site-data')).toBeNull()
    const moved = await get(`${prefix()}/redirect`, { redirect: 'manual' })
    expect(moved.status).toBe(302)
    expect(moved.headers.get('location')).toBe(`${prefix()}/status/200`)
    const bare = await get(prefix(), { redirect: 'manual' })
    expect(bare.status).toBe(308)
    expect(bare.headers.get('location')).toBe(`${prefix()}/`)
  })

  /** Opens a WebSocket; resolves with it and its messages, or with the refusal's status. */
  const socket = (path: string, headers: Record<string, string> = auth) =>
    new Promise<{ ws?: WebSocket; messages: WebSocket.RawData[]; status?: number }>((resolve) => {
      const messages: WebSocket.RawData[] = []
      const ws = new WebSocket(`ws://127.0.0.1:${spawner.p.port}${path}`, ['vite-hmr'], { headers })
      ws.on('message', (data) => messages.push(data))
      ws.once('open', () => resolve({ ws, messages }))
      ws.once('unexpected-response', (_req, res) => resolve({ messages, status: res.statusCode }))
    })
  /** Resolves with the next message `ws` gets after the `seen` already in `messages`. */
  const nextMessage = (ws: WebSocket, messages: WebSocket.RawData[], seen: number) =>
    new Promise<{ data: WebSocket.RawData; binary: boolean }>((resolve) => {
      if (messages.length > seen) return resolve({ data: messages[seen]!, binary: false })
      ws.once('message', (data, binary) => resolve({ data, binary }))
    })

  it('relays a WebSocket both ways, text and binary, and passes the close on', async () => {
    const { ws, messages } = await socket(`${prefix()}/hmr?x=1`)
    const hello = await nextMessage(ws!, messages, 0)
    // The path under the prefix, the protocol asked for; the service's token stays here.
    expect(hello.data.toString()).toBe('hello /hmr?x=1 vite-hmr -')
    expect(ws!.protocol).toBe('vite-hmr')
    ws!.send('ping')
    expect((await nextMessage(ws!, messages, 1)).data.toString()).toBe('ping')
    ws!.send(Buffer.from([0, 1, 2, 255]))
    const binary = await nextMessage(ws!, messages, 2)
    expect(binary.binary).toBe(true)
    expect([...(binary.data as Buffer)]).toEqual([0, 1, 2, 255])
    const closed = new Promise<number>((resolve) => ws!.once('close', (code) => resolve(code)))
    ws!.close(4001, 'bye')
    expect(await closed).toBe(4001)
  })

  it('refuses a WebSocket without a token, and takes one through a link', async () => {
    expect((await socket(`${prefix()}/hmr`, {})).status).toBe(401)
    const made = await call('POST', `/v1/workers/${id}/preview-links`, { port: PORT })
    const { ws, messages } = await socket(`${made.json.path}hmr`, {})
    expect((await nextMessage(ws!, messages, 0)).data.toString()).toBe('hello /hmr vite-hmr -')
    ws!.close()
  })

  it('answers 502 port_not_listening for a port nothing listens on', async () => {
    const res = await get(`/v1/workers/${id}/ports/${PORT + 1}/`)
    expect(res.status).toBe(502)
    const body = await res.json()
    expect(body.error.code).toBe('port_not_listening')
    expect(body.error.message).toContain(`nothing listens on port ${PORT + 1}`)
  })

  it('refuses a call without a token, and the token of a worker not above it', async () => {
    expect((await fetch(`${base}${prefix()}/status/200`)).status).toBe(401)
    expect((await fetch(`${base}/v1/workers/${id}/ports`)).status).toBe(401)
    const foreign = { authorization: `Bearer ${await tokenOf(call, other)}` }
    const refused = await fetch(`${base}${prefix()}/status/200`, { headers: foreign })
    expect(refused.status).toBe(403)
    expect((await refused.json()).error.code).toBe('not_your_worker')
    const listing = await fetch(`${base}/v1/workers/${id}/ports`, { headers: foreign })
    expect(listing.status).toBe(403)
    const link = await fetch(`${base}/v1/workers/${id}/preview-links`, {
      method: 'POST',
      headers: { ...foreign, 'content-type': 'application/json' },
      body: JSON.stringify({ port: PORT }),
    })
    expect(link.status).toBe(403)
    // Its own port, with the `preview` tool: allowed.
    const own = await fetch(`${base}/v1/workers/${other}/ports/${PORT}/status/201`, {
      headers: foreign,
    })
    expect(own.status).toBe(201)
  })

  it('serves a signed link without a token, for that worker and port only', async () => {
    const made = await call('POST', `/v1/workers/${id}/preview-links`, { port: PORT })
    expect(made.status).toBe(201)
    const path = made.json.path as string
    expect(path).toMatch(new RegExp(`^/previews/${id}/${PORT}/\\d+\\.[0-9a-f]{64}/$`))
    const res = await fetch(`${base}${path}echo?q=1`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toBe(PREVIEW_CSP)
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const echo = await res.json()
    expect(echo.url).toBe('/echo?q=1')
    expect(echo.headers['x-forwarded-prefix']).toBe(path.slice(0, -1))

    const credential = path.split('/')[4]
    const refusedFor = async (p: string) => {
      const r = await fetch(`${base}${p}`)
      return { status: r.status, code: (await r.json()).error.code }
    }
    const invalid = { status: 403, code: 'preview_link_invalid' }
    expect(await refusedFor(`/previews/${id}/${PORT + 1}/${credential}/`)).toEqual(invalid)
    expect(await refusedFor(`/previews/${other}/${PORT}/${credential}/`)).toEqual(invalid)
    expect(
      await refusedFor(
        `/previews/${id}/${PORT}/${credential!.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}/`,
      ),
    ).toEqual(invalid)
    // A link is no token for the API.
    expect(
      (
        await fetch(`${base}/v1/workers/${id}/ports`, {
          headers: { authorization: `Bearer ${credential}` },
        })
      ).status,
    ).toBe(401)
  })

  it('refuses a link once it has expired', async () => {
    const made = await call('POST', `/v1/workers/${id}/preview-links`, {
      port: PORT,
      ttlSeconds: 1,
    })
    const path = made.json.path as string
    const expires = Date.parse(made.json.expiresAt)
    expect((await fetch(`${base}${path}status/200`)).status).toBe(200)
    // Waits for the expiry the link carries to pass (a state of the clock, not a guess).
    while (Date.now() <= expires) await new Promise((r) => setTimeout(r, expires + 5 - Date.now()))
    const res = await fetch(`${base}${path}status/200`)
    expect(res.status).toBe(403)
    expect((await res.json()).error.code).toBe('preview_link_invalid')
  })

  it("refuses a deleted worker's links", async () => {
    const made = await call('POST', `/v1/workers/${other}/preview-links`, { port: PORT })
    const path = made.json.path as string
    expect((await fetch(`${base}${path}status/200`)).status).toBe(200)
    expect((await call('DELETE', `/v1/workers/${other}`)).status).toBe(200)
    const res = await fetch(`${base}${path}status/200`)
    expect(res.status).toBe(404)
    expect((await res.json()).error.code).toBe('worker_not_found')
  })
})

describe('a previewed page cannot use the service with the browser (loopback, no API token)', () => {
  let spawner: { p: SpawnerProcess; cleanup: () => Promise<void> }
  let call: Call
  let base: string
  let id: string
  let browser: Browser | undefined

  beforeAll(async () => {
    spawner = await spawnerFor()
    call = spawnerClient(spawner.p)
    base = `http://127.0.0.1:${spawner.p.port}`
    id = await workerServing(call)
    if (!existsSync('/usr/bin/chromium'))
      throw new Error('/usr/bin/chromium is missing: apt-get install -y chromium')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    })
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await spawner?.cleanup()
  })

  /** Opens the attack page at `path` and returns what it reported. */
  const attack = async (path: string) => {
    const page = await browser!.newPage()
    try {
      await page.goto(`${base}${path}`)
      await page.waitForFunction(() => document.title.startsWith('{'))
      return JSON.parse(await page.title()) as Record<string, { ok: boolean; value?: unknown }> & {
        origin: string
      }
    } finally {
      await page.close()
    }
  }

  it('the worker list is readable here without a token (what the page is after)', async () => {
    expect(
      (await call('GET', '/v1/workers')).json.workers.map((w: { workerId: string }) => w.workerId),
    ).toContain(id)
  })

  it.each([
    [
      'a signed link',
      async () =>
        (await call('POST', `/v1/workers/${id}/preview-links`, { port: PORT })).json.path as string,
    ],
    ['the /v1 route', async () => `/v1/workers/${id}/ports/${PORT}/`],
  ])(
    'through %s: opaque origin, no fetch or frame read of /v1/workers, no cookies or storage',
    async (_, pathOf) => {
      const report = await attack(`${await pathOf()}attack.html`)
      for (const name of ['fetch', 'fetchWithCredentials', 'iframe', 'cookie', 'storage'])
        expect(report[name], name).toMatchObject({ ok: false })
      expect(report.origin).toBe('null')
    },
  )

  it('through a signed link, the page reads its own server', async () => {
    const path = (await call('POST', `/v1/workers/${id}/preview-links`, { port: PORT })).json
      .path as string
    const report = await attack(`${path}attack.html`)
    expect(report.own).toEqual({ ok: true, value: 'status' })
  })
})
