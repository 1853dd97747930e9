import type { MiddlewareHandler } from 'hono'
import { ForbiddenError } from '../core/errors.ts'

export interface BrowserGuardOptions {
  /**
   * Check `Host` against loopback names and `allowedHosts`. Needed wherever an unauthenticated
   * caller is an operator: a DNS-rebound name turns a web page into a same-origin caller.
   */
  checkHost: boolean
  /** Names (any port) besides the loopback ones that `Host` may carry: ALLOWED_HOSTS and HOST. */
  allowedHosts?: readonly string[]
  /** The setting a `host_not_allowed` refusal tells the operator to add the name to (default ALLOWED_HOSTS). */
  allowedHostsSetting?: string
}

/** Drops one trailing dot: `localhost.` is the same name as `localhost`. */
const bare = (name: string) => name.toLowerCase().replace(/\.$/, '')

/** `localhost`, `*.localhost`, `127.x.x.x` or `[::1]`: names only this machine answers to. */
export const isLoopbackName = (hostname: string) => {
  const name = bare(hostname)
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) ||
    name === '[::1]' ||
    name === '::1'
  )
}

/** An allowed-host entry as URL parsing would spell it: lower case, IPv6 in brackets. */
const normalize = (entry: string) => {
  const name = bare(entry.trim())
  return name.includes(':') && !name.startsWith('[') ? `[${name}]` : name
}

/**
 * Refuses what a web browser sends on behalf of another site, so a page the operator opens can
 * neither drive nor read the API:
 * - `Host` not a loopback name or an allowed one (DNS rebinding), when `checkHost` is set:
 *   403 `host_not_allowed`;
 * - an `Origin` other than the service's own, or `Sec-Fetch-Site: cross-site | same-site`:
 *   403 `cross_origin`. Same-origin pages (`/docs`) and non-browser clients, which send
 *   neither header, pass.
 * @example
 * app.use(browserGuard({ checkHost: !apiToken, allowedHosts: ['spawner.lan'] }))
 */
export const browserGuard = (opts: BrowserGuardOptions): MiddlewareHandler => {
  const allowed = new Set((opts.allowedHosts ?? []).filter((h) => h.trim() !== '').map(normalize))
  return async function browserGuard(c, next) {
    // The adapter builds the URL from the Host header (the listen address when there is none).
    const url = new URL(c.req.url)
    if (opts.checkHost && !isLoopbackName(url.hostname) && !allowed.has(bare(url.hostname))) {
      throw new ForbiddenError(
        `Host '${url.host}' is not served: use a loopback name (localhost, 127.0.0.1) or add it to ${opts.allowedHostsSetting ?? 'ALLOWED_HOSTS'}`,
        'host_not_allowed',
      )
    }
    const origin = c.req.header('origin')
    // Scheme aside: behind a TLS-terminating proxy the page is https and the request http.
    if (origin !== undefined && originHost(origin) !== url.host) {
      throw new ForbiddenError(
        `requests from origin '${origin}' are refused: only same-origin pages may call`,
        'cross_origin',
      )
    }
    const site = c.req.header('sec-fetch-site')
    if (site === 'cross-site' || site === 'same-site') {
      throw new ForbiddenError(
        `${site} browser requests are refused: only same-origin pages may call`,
        'cross_origin',
      )
    }
    return next()
  }
}

/** The host:port of an Origin header; undefined for `null` and anything unparsable. */
const originHost = (origin: string) => {
  try {
    return new URL(origin).host || undefined
  } catch {
    return undefined
  }
}
