import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { noopLogger } from '../core/logger.ts'
import { browserGuard, type BrowserGuardOptions } from './browser-guard.ts'
import { onError } from './errors.ts'

const appWith = (opts: BrowserGuardOptions) => {
  const app = new Hono()
  app.onError(onError(noopLogger))
  app.use(browserGuard(opts))
  app.all('*', (c) => c.json({ ok: true }))
  return app
}

const refusal = async (res: Response) => ({
  status: res.status,
  code: ((await res.json()) as { error?: { code: string } }).error?.code,
})

describe('browserGuard: Host', () => {
  const app = appWith({ checkHost: true, allowedHosts: ['Spawner.LAN', '[fd00::1]', '127.0.0.1'] })

  it.each([
    'localhost',
    'localhost:8080',
    'LOCALHOST:8080',
    'localhost.',
    'app.localhost:3000',
    '127.0.0.1',
    '127.0.0.1:8080',
    '127.45.6.7:1',
    '[::1]:8080',
    'spawner.lan:9000',
    '[fd00::1]:8080',
  ])('serves Host %s', async (host) => {
    const res = await app.request(`http://${host}/v1/workers`)
    expect(res.status).toBe(200)
  })

  it.each([
    'rebind.test:8080',
    'example.com',
    '0.0.0.0:8080',
    '192.168.1.20:8080',
    'localhost.evil.test',
    'lan:9000',
    '[fd00::2]',
  ])('refuses Host %s with the error JSON', async (host) => {
    const res = await app.request(`http://${host}/v1/workers`, { method: 'POST' })
    expect(res.status).toBe(403)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('host_not_allowed')
    expect(body.error.message).toMatch(/ALLOWED_HOSTS/)
  })

  it('takes any Host when it is not asked to check', async () => {
    const open = appWith({ checkHost: false })
    expect((await open.request('http://spawner.example.com/v1/workers')).status).toBe(200)
  })
})

describe('browserGuard: Origin and Sec-Fetch-Site', () => {
  const app = appWith({ checkHost: true })
  const url = 'http://127.0.0.1:8080/v1/workers'

  it('serves non-browser clients and same-origin pages', async () => {
    expect((await app.request(url, { method: 'POST' })).status).toBe(200)
    for (const headers of <Record<string, string>[]>[
      { origin: 'http://127.0.0.1:8080' },
      // A TLS-terminating proxy: the page is https, the request arrives as http.
      { origin: 'https://127.0.0.1:8080' },
      { origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' },
      { 'sec-fetch-site': 'none' },
    ]) {
      expect(
        (await app.request(url, { method: 'POST', headers })).status,
        JSON.stringify(headers),
      ).toBe(200)
    }
  })

  it.each([
    ['another site', { origin: 'http://evil.test' }],
    ['another port on the same host', { origin: 'http://127.0.0.1:3000' }],
    ['another loopback name', { origin: 'http://localhost:8080' }],
    ['an opaque origin', { origin: 'null' }],
    ['a garbled origin', { origin: 'not a url' }],
    ['a cross-site fetch without Origin', { 'sec-fetch-site': 'cross-site' }],
    ['a same-site fetch', { 'sec-fetch-site': 'same-site' }],
  ])('refuses %s, on GETs too', async (_name, headers) => {
    for (const method of ['GET', 'POST']) {
      expect(await refusal(await app.request(url, { method, headers }))).toEqual({
        status: 403,
        code: 'cross_origin',
      })
    }
    expect(
      await refusal(await app.request('http://127.0.0.1:8080/v1/events', { headers })),
    ).toEqual({ status: 403, code: 'cross_origin' })
  })

  it('checks Origin even where Host is not checked (API token set)', async () => {
    const tokenApp = appWith({ checkHost: false })
    const res = await tokenApp.request('http://spawner.example.com/v1/workers', {
      method: 'POST',
      headers: { origin: 'https://evil.test' },
    })
    expect(await refusal(res)).toEqual({ status: 403, code: 'cross_origin' })
    const same = await tokenApp.request('http://spawner.example.com/v1/workers', {
      method: 'POST',
      headers: { origin: 'https://spawner.example.com' },
    })
    expect(same.status).toBe(200)
  })
})
