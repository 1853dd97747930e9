import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer, request, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { basic, LOOPBACK, mirrorServer, portOf, startProxy } from './egress-proxy.fixtures.ts'

let mirror: Server
let M: number
let proxy: Awaited<ReturnType<typeof startProxy>>

beforeAll(async () => {
  mirror = await mirrorServer()
  M = portOf(mirror)
  proxy = await startProxy(['allowed.test', `*.wild.test:${M}`], {
    hosts: { 'allowed.test': '127.0.0.1' },
    privateAllow: LOOPBACK,
  })
})
afterAll(async () => {
  await proxy.close()
  mirror.close()
})

/** An absolute-form request through the proxy, answered as status, headers and text. */
const viaProxy = (
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  port = proxy.port,
) =>
  new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
    (resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path: url,
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
      })
      req.on('response', async (res) => {
        let text = ''
        for await (const c of res) text += String(c)
        resolve({ status: res.statusCode!, headers: res.headers, text })
      })
      req.on('error', reject)
      req.end(init.body)
    },
  )

const auth = { 'Proxy-Authorization': basic('KEY-A') }

describe('egress proxy: absolute-form HTTP', () => {
  it('forwards method, path, headers and body both ways, minus hop-by-hop and Proxy-*', async () => {
    const res = await viaProxy(`http://user:pw@Allowed.Test:${M}/p/a?q=1`, {
      method: 'POST',
      headers: { ...auth, Connection: 'X-Hop', 'X-Hop': 'no', 'X-Kept': 'yes', TE: 'trailers' },
      body: 'a body',
    })
    expect(res.status).toBe(200)
    const seen = JSON.parse(res.text)
    expect(seen).toMatchObject({ method: 'POST', url: '/p/a?q=1', body: 'a body' })
    expect(seen.headers.host).toBe(`allowed.test:${M}`)
    expect(seen.headers['x-kept']).toBe('yes')
    for (const hop of ['proxy-authorization', 'x-hop', 'te', 'authorization']) {
      expect(seen.headers).not.toHaveProperty(hop)
    }
    expect(res.headers).not.toHaveProperty('x-secret-hop')
    expect(proxy.seen.allowed.at(-1)).toEqual({ workerId: 'a', host: 'allowed.test', port: M })
  })

  it('streams a large body through', async () => {
    const body = 'x'.repeat(3_000_000)
    const res = await viaProxy(`http://allowed.test:${M}/big`, {
      method: 'PUT',
      headers: auth,
      body,
    })
    expect(JSON.parse(res.text).body).toBe(body)
  })

  it('refuses what the allowlist does not hold, with 403 and the reason', async () => {
    const denied = await viaProxy(`http://other.test:${M}/`, { headers: auth })
    expect(denied.status).toBe(403)
    expect(denied.text).toBe(
      `workers-spawner egress proxy: other.test:${M} is not in this worker's network ` +
        'allowlist (WorkerConfig.network.allow)\n',
    )
    expect(proxy.seen.denied.at(-1)).toMatchObject({ host: 'other.test', code: 'not_allowed' })
    expect((await viaProxy(`http://wild.test:${M}/`, { headers: auth })).status).toBe(403)
    expect((await viaProxy(`http://a.wild.test:${M}/`, { headers: auth })).status).toBe(200)
    expect((await viaProxy(`http://a.wild.test/`, { headers: auth })).status).toBe(403)
  })

  it('frees the worker’s slot after each answer, and caps concurrent requests with 429', async () => {
    const one = await startProxy(['allowed.test'], {
      privateAllow: LOOPBACK,
      maxTunnelsPerWorker: 1,
    })
    try {
      const hang = createServer(() => {}) // holds the one slot: it never answers
      hang.listen(0, '127.0.0.1')
      await once(hang, 'listening')
      const seenClose = new Promise<void>((r) => hang.once('connection', (s) => s.once('close', r)))
      const held = request({
        host: '127.0.0.1',
        port: one.port,
        path: `http://allowed.test:${portOf(hang)}/`,
        headers: auth,
      })
      held.on('error', () => {})
      held.end()
      await vi.waitFor(() => expect(one.seen.allowed).toHaveLength(1))
      const over = await viaProxy(`http://allowed.test:${M}/`, { headers: auth }, one.port)
      expect(over.status).toBe(429)
      // The client goes away: the upstream connection goes too, and the slot is free again.
      held.destroy()
      await seenClose
      hang.close()
      await vi.waitFor(async () => {
        expect(
          (await viaProxy(`http://allowed.test:${M}/`, { headers: auth }, one.port)).status,
        ).toBe(200)
      })
      for (let i = 0; i < 3; i++) {
        expect(
          (await viaProxy(`http://allowed.test:${M}/`, { headers: auth }, one.port)).status,
        ).toBe(200)
      }
    } finally {
      await one.close()
    }
  })

  it('answers 502 when the destination refuses the connection', async () => {
    const closed = createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const dead = portOf(closed)
    await new Promise((r) => closed.close(r))
    const res = await viaProxy(`http://allowed.test:${dead}/`, { headers: auth })
    expect(res.status).toBe(502)
    expect(res.text).toMatch(`allowed.test:${dead} could not be reached (ECONNREFUSED)`)
  })

  it('asks for a credential, wants http:// only, and leaves the app its own requests', async () => {
    const anonymous = await viaProxy(`http://allowed.test:${M}/`)
    expect(anonymous.status).toBe(407)
    expect(anonymous.headers['proxy-authenticate']).toBe('Basic realm="workers-spawner"')
    const tls = await viaProxy(`https://allowed.test:${M}/`, { headers: auth })
    expect(tls.status).toBe(400)
    expect(tls.text).toMatch(/https:\/\/ URLs go through CONNECT/)
    expect((await viaProxy(`ftp://allowed.test/`, { headers: auth })).status).toBe(400)
    const app = await viaProxy('/v1/whoami', { headers: auth })
    expect(app).toMatchObject({ status: 200, text: 'app /v1/whoami' })
  })
})

const curl = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    // No inherited proxy settings: the test names its proxy and nothing else.
    execFile(
      'curl',
      ['-sS', '--max-time', '20', ...args],
      { env: { PATH: process.env.PATH } },
      (e, stdout, stderr) => resolve({ code: e ? Number(e.code) : 0, stdout, stderr }),
    )
  })

describe('egress proxy with curl', () => {
  const via = () => `http://someone:KEY-A@127.0.0.1:${proxy.port}`

  it('tunnels (curl -p) and forwards (absolute-form) to an allowed name', async () => {
    const tunnelled = await curl(['-p', '-x', via(), `http://allowed.test:${M}/t`])
    expect(tunnelled.code).toBe(0)
    expect(JSON.parse(tunnelled.stdout)).toMatchObject({ url: '/t' })
    const forwarded = await curl(['-x', via(), `http://allowed.test:${M}/f`])
    expect(forwarded.code).toBe(0)
    expect(JSON.parse(forwarded.stdout)).toMatchObject({ url: '/f' })
  })

  it('fails fast on a name that is not allowed, and on a wrong key', async () => {
    const tunnel = await curl(['-p', '-x', via(), `http://other.test:${M}/`])
    expect(tunnel.code).not.toBe(0)
    expect(tunnel.stderr).toMatch(/403/)
    const plain = await curl(['-x', via(), `http://other.test:${M}/`])
    expect(plain.stdout).toMatch(/other.test:\d+ is not in this worker's network allowlist/)
    const wrong = await curl([
      '-p',
      '-x',
      `http://someone:nope@127.0.0.1:${proxy.port}`,
      `http://allowed.test:${M}/`,
    ])
    expect(wrong.stderr).toMatch(/407/)
  })
})
