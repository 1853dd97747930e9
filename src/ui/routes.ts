import type { Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { sameSecret } from '../core/auth/same-secret.ts'
import type { AppEnv } from '../http/auth.ts'
import type { UiAssets } from './assets.ts'
import { cspOf, loginHtml, pageHtml } from './html.ts'
import { UI_PAGES } from './pages.ts'
import { issueSession, SESSION_COOKIE, SESSION_SECONDS, validSession } from './session.ts'

export interface UiOptions {
  assets: UiAssets
  /** SPAWNER_API_TOKEN: with it, pages need a login; without, there is none. */
  apiToken?: string
}

const PAGE_HEADERS = {
  'content-security-policy': cspOf(),
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it, Chrome sends `Origin: null` on form posts, which the guard refuses.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
}

/** Where to go after logging in: one of the dashboard's own paths, nothing else. */
const safeNext = (next: unknown) =>
  typeof next === 'string' && /^\/ui(\/[A-Za-z0-9/_.-]*)?(\?[A-Za-z0-9_.~%=&+,:-]*)?$/.test(next)
    ? next
    : '/ui'

/** Behind a TLS-terminating proxy the page is https while this hop is http. */
const isHttps = (c: Context) =>
  new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https'

/**
 * The dashboard at `/ui`: one HTML shell per page (UI_PAGES), its scripts and styles under
 * `/ui/assets/<version>/` (cached for good), and, with an API token, `/ui/login` and
 * `/ui/logout`. Pages talk to `/v1` like any client; the login's cookie makes them the
 * operator there (see `authenticate`).
 */
export const registerUi = (app: Hono<AppEnv>, opts: UiOptions) => {
  const { assets, apiToken } = opts
  const { version } = assets

  app.get('/ui/assets/:version/*', (c) => {
    const path = c.req.path.slice(`/ui/assets/${c.req.param('version')}/`.length)
    const file = c.req.param('version') === version ? assets.files.get(path) : undefined
    if (!file) return c.text('not found', 404, { 'cache-control': 'no-store' })
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': file.type,
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    })
  })

  const loggedIn = async (c: Context) =>
    !apiToken || (await validSession(apiToken, getCookie(c, SESSION_COOKIE)))

  for (const page of UI_PAGES) {
    app.get(page.path, async (c) => {
      if (!(await loggedIn(c))) {
        const { pathname, search } = new URL(c.req.url)
        return c.redirect(`/ui/login?next=${encodeURIComponent(pathname + search)}`, 302)
      }
      const html = pageHtml(page, { version, params: c.req.param(), login: !!apiToken })
      const csp = cspOf({ inlineStyles: page.inlineStyles ?? false })
      return c.html(html, 200, { ...PAGE_HEADERS, 'content-security-policy': csp })
    })
  }
  app.get('/ui/', (c) => c.redirect('/ui', 301))

  app.get('/ui/login', (c) => {
    if (!apiToken) return c.redirect('/ui', 302)
    const html = loginHtml({ version, next: safeNext(c.req.query('next')), failed: false })
    return c.html(html, 200, PAGE_HEADERS)
  })
  // The browser guard has already refused cross-site posts, so no other site can log anyone in.
  app.post('/ui/login', bodyLimit({ maxSize: 16 * 1024 }), async (c) => {
    if (!apiToken) return c.redirect('/ui', 303)
    const form = await c.req.parseBody()
    const next = safeNext(form.next)
    if (typeof form.token !== 'string' || !sameSecret(form.token.trim(), apiToken))
      return c.html(loginHtml({ version, next, failed: true }), 401, PAGE_HEADERS)
    setCookie(c, SESSION_COOKIE, await issueSession(apiToken), {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      maxAge: SESSION_SECONDS,
      secure: isHttps(c),
    })
    return c.redirect(next, 303)
  })
  app.post('/ui/logout', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'Strict' })
    return c.redirect(apiToken ? '/ui/login' : '/ui', 303)
  })
}
