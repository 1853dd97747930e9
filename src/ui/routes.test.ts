import { beforeAll, describe, expect, it, vi } from 'vitest'
import { parsePoolSpecs, WarmPools } from '../core/pool.ts'
import { memoryService } from '../../test/support/memory-service.ts'
import { createApp } from '../http/app.ts'
import type { UiAssets } from './assets.ts'
import { loadUiAssets } from './assets-node.ts'
import { issueSession, SESSION_COOKIE } from './session.ts'

const TOKEN = 'operator-token-0123456789'
let ui: UiAssets
beforeAll(async () => {
  ui = await loadUiAssets()
})

const appWith = (apiToken?: string) =>
  createApp({ service: memoryService().service, ui, ...(apiToken ? { auth: { apiToken } } : {}) })

/** Logs in through the form; returns the Set-Cookie header. */
const login = async (app: ReturnType<typeof appWith>, token: string) => {
  const res = await app.request('/ui/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, next: '/ui/plugins' }),
  })
  return res
}

const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0]!

describe('the dashboard', () => {
  it('serves its pages with a strict CSP and its assets under a versioned, cached path', async () => {
    const app = appWith()
    const page = await app.request('/ui')
    expect(page.status).toBe(200)
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    const html = await page.text()
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/)
    expect(html).toContain(`/ui/assets/${ui.version}/app.js`)
    const js = await app.request(`/ui/assets/${ui.version}/app.js`)
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(js.headers.get('cache-control')).toContain('immutable')
    const css = await app.request(`/ui/assets/${ui.version}/vendor/xterm/xterm.css`)
    expect(css.headers.get('content-type')).toMatch(/^text\/css/)
    expect((await app.request('/ui/assets/old/app.js')).status).toBe(404)
    expect((await app.request(`/ui/assets/${ui.version}/../html.ts`)).status).toBe(404)
  })

  it('asks for no login without a token; with one, sends pages to the login', async () => {
    expect((await appWith().request('/ui/login')).status).toBe(302)
    const res = await appWith(TOKEN).request('/ui/workers/w-1')
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fworkers%2Fw-1')
  })

  it('logs in with the token into an HttpOnly, SameSite=Strict cookie that is not the token', async () => {
    const app = appWith(TOKEN)
    const bad = await login(app, 'wrong')
    expect(bad.status).toBe(401)
    expect(bad.headers.get('set-cookie')).toBeNull()
    const res = await login(app, TOKEN)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/ui/plugins')
    const set = res.headers.get('set-cookie')!
    expect(set).toMatch(/HttpOnly/)
    expect(set).toMatch(/SameSite=Strict/)
    expect(set).toMatch(/Path=\//)
    expect(set).not.toContain(TOKEN)
    expect((await app.request('/ui', { headers: { cookie: cookieOf(res) } })).status).toBe(200)
  })

  it('takes the cookie as the operator on /v1 only from its own pages', async () => {
    const app = appWith(TOKEN)
    const cookie = cookieOf(await login(app, TOKEN))
    const call = (headers: Record<string, string>) =>
      app.request('http://127.0.0.1:8080/v1/workers', { headers: { cookie, ...headers } })
    expect((await call({ 'sec-fetch-site': 'same-origin' })).status).toBe(200)
    expect((await call({ origin: 'http://127.0.0.1:8080' })).status).toBe(200)
    // A top-level navigation typed or linked, a script elsewhere, a bare client: not enough.
    expect((await call({ 'sec-fetch-site': 'none' })).status).toBe(401)
    expect((await call({})).status).toBe(401)
    expect((await call({ 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await call({ origin: 'http://evil.test' })).status).toBe(403)
  })

  it('refuses a forged, expired or foreign session', async () => {
    const app = appWith(TOKEN)
    const call = (value: string) =>
      app.request('/v1/workers', {
        headers: { cookie: `${SESSION_COOKIE}=${value}`, 'sec-fetch-site': 'same-origin' },
      })
    expect((await call(await issueSession('another-token'))).status).toBe(401)
    expect((await call(await issueSession(TOKEN, Date.now() - 13 * 3600_000))).status).toBe(401)
    const [v, , m] = (await issueSession(TOKEN)).split('.')
    expect((await call(`${v}.${Math.floor(Date.now() / 1000) + 10 ** 8}.${m}`)).status).toBe(401)
    expect((await call(await issueSession(TOKEN))).status).toBe(200)
  })

  it('refuses a login posted by another site', async () => {
    const res = await appWith(TOKEN).request('/ui/login', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'http://evil.test',
      },
      body: new URLSearchParams({ token: TOKEN }),
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  it('logs out by clearing the cookie, and sends a login only to its own pages', async () => {
    const app = appWith(TOKEN)
    const out = await app.request('/ui/logout', { method: 'POST' })
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/)
    const res = await app.request('/ui/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: TOKEN, next: '//evil.test/' }),
    })
    expect(res.headers.get('location')).toBe('/ui')
  })
  it('lets only the worker page (the terminal) have inline styles, never inline scripts', async () => {
    const app = appWith()
    const csp = async (path: string) =>
      (await app.request(path)).headers.get('content-security-policy')!
    expect(await csp('/ui')).toContain("style-src 'self';")
    const worker = await csp('/ui/workers/w-0123456789abcdef')
    expect(worker).toContain("style-src 'self' 'unsafe-inline'")
    expect(worker).toContain("script-src 'self';")
  })

  it('serves the warm pools fill level to operators', async () => {
    const { service } = memoryService()
    const app = createApp({ service, auth: { apiToken: TOKEN } })
    const bearer = { headers: { authorization: `Bearer ${TOKEN}` } }
    expect(await (await app.request('/v1/pools', bearer)).json()).toEqual({ pools: [] })
    const pools = new WarmPools(service, parsePoolSpecs('shell=2'))
    pools.start()
    await vi.waitFor(async () => {
      const res = await app.request('/v1/pools', bearer)
      expect(await res.json()).toEqual({
        pools: [{ key: 'shell', agent: 'shell', capabilities: [], size: 2, ready: 2 }],
      })
    })
    pools.close()
    expect((await app.request('/v1/pools')).status).toBe(401)
  })
})
