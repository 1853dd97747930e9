import type { Context, Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from './auth.ts'
import { principalOf } from './auth.ts'
import { BadRequestError, ConflictError, ForbiddenError, UnavailableError } from '../core/errors.ts'
import type { WorkerService } from '../core/service.ts'
import type { WorkerRecord } from '../core/worker-record.ts'
import { readJsonObject } from '../hono/json-body.ts'
import { parseListeningPorts } from './preview-ports.ts'
import { PREVIEW_LINK_ROOT, type PreviewLinks } from './preview-links.ts'

/** The tool a worker token needs to preview itself or its sub-workers. */
export const PREVIEW_TOOL = 'preview'

/** Where one request goes: a port on loopback inside a worker's container. */
export interface PreviewTarget {
  workerId: string
  containerId: string
  port: number
  /** Path and query as the worker's server sees them (the prefix taken off). */
  path: string
}

/** Sends a request to a worker's port and returns its answer, streamed (src/node). */
export type PreviewForward = (target: PreviewTarget, req: Request) => Promise<Response>

/**
 * Takes over a WebSocket upgrade and relays its messages to the same path on the worker's
 * port (src/node); `headers` are what the worker's server gets in its handshake.
 */
export type PreviewUpgrade = (
  target: PreviewTarget,
  c: Context<AppEnv>,
  headers: Headers,
) => Promise<Response | undefined>

export interface PreviewOptions {
  /** Absent where the runtime cannot reach into workers (host agents): previews answer 503. */
  forward?: PreviewForward
  /** Relays WebSockets (dev servers' live reload); absent: an upgrade is forwarded as HTTP. */
  upgrade?: PreviewUpgrade
  /** Signs and checks preview links (absent: none are made or taken). */
  links?: PreviewLinks
  /** Longest life of a preview link, seconds (PREVIEW_LINK_MAX_SECONDS). */
  maxLinkSeconds: number
}

/**
 * What a previewed page is served with. `sandbox` without `allow-same-origin` gives the page an
 * opaque origin: it shares nothing with the service's origin (no cookies, no storage, and its
 * requests to `/v1` are cross-origin, which `browserGuard` refuses and CORS keeps unread).
 */
export const PREVIEW_CSP =
  'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads'

/** Request headers that carry the caller's credentials for this service: never forwarded. */
const CREDENTIALS = ['authorization', 'cookie', 'proxy-authorization']

/**
 * Response headers the worker's server may not send to a browser on the service's origin:
 * cookies would land on the service's origin (and could shadow its login cookie),
 * `Clear-Site-Data` would wipe it, and CORS answers are the service's to give.
 */
const refused = (name: string) =>
  name === 'set-cookie' ||
  name === 'set-cookie2' ||
  name === 'clear-site-data' ||
  name === 'service-worker-allowed' ||
  name.startsWith('access-control-')

const portSchema = z.coerce.number().int().min(1).max(65_535)
const linkBodySchema = z.object({
  port: z.number().int().min(1).max(65_535),
  ttlSeconds: z.number().int().min(1).optional(),
})

/** A worker's port from the path, or a 400. */
const portOf = (raw: string | undefined) => {
  const parsed = portSchema.safeParse(raw)
  if (!parsed.success)
    throw new BadRequestError(`port '${raw}' is not a TCP port (1-65535)`, [
      { path: 'port', message: 'a TCP port (1-65535)' },
    ])
  return parsed.data
}

/**
 * Lets an operator through, and a worker whose token has the `preview` tool for itself and
 * the workers it spawned (the same rule as every `/v1` command).
 */
const mayPreview = async (c: Context<AppEnv>, service: WorkerService, workerId: string) => {
  const p = principalOf(c)
  if (p.kind === 'operator') return
  if (p.kind === 'worker' && !p.tools.includes(PREVIEW_TOOL)) {
    throw new ForbiddenError(
      `worker '${p.workerId}' lacks the tool '${PREVIEW_TOOL}' (allowed: ${p.tools.join(', ') || 'none'})`,
      'tool_not_allowed',
    )
  }
  if (!(await service.isWithin(workerId, p.workerId))) {
    throw new ForbiddenError(
      `worker '${p.workerId}' may preview only itself and the workers it spawned, not '${workerId}'`,
      'not_your_worker',
    )
  }
}

/** The worker, running (a paused one cannot answer). */
const runningWorker = async (service: WorkerService, workerId: string): Promise<WorkerRecord> => {
  const record = await service.get(workerId)
  if (record.state !== 'running')
    throw new ConflictError(`worker '${workerId}' is ${record.state}: resume it first`)
  return record
}

/**
 * The page's answer as a browser may see it on the service's origin: served sandboxed
 * (`PREVIEW_CSP`), never setting cookies or CORS grants of its own, with a redirect to an
 * absolute path (or to the server's own loopback address) kept under `prefix`. Answers
 * through a link also leak no Referer (the link is a credential) and let any origin read
 * them (`Access-Control-Allow-Origin: *`: the sandboxed page's own `fetch` and module scripts
 * come from an opaque origin; the link, not a cookie, is what grants access).
 */
const guarded = (res: Response, prefix: string, port: number, link: boolean): Response => {
  const headers = new Headers()
  res.headers.forEach((value, name) => {
    if (!refused(name)) headers.append(name, value)
  })
  headers.append('content-security-policy', PREVIEW_CSP)
  headers.set('x-content-type-options', 'nosniff')
  if (link) {
    headers.set('referrer-policy', 'no-referrer')
    headers.set('access-control-allow-origin', '*')
  }
  const location = headers.get('location')
  if (location) headers.set('location', underPrefix(location, prefix, port))
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers })
}

/** A redirect target of the worker's server, as the browser must follow it under `prefix`. */
export const underPrefix = (location: string, prefix: string, port: number): string => {
  const own = new RegExp(`^https?://(?:localhost|127\\.0\\.0\\.1|\\[::1\\]):${port}(?=/|$)`, 'i')
  const path = location.replace(own, '')
  if (path === '') return `${prefix}/`
  if (path.startsWith('/') && !path.startsWith('//')) return `${prefix}${path}`
  return path
}

/** `/v1/workers/<id>/ports/<port>` and the rest of the path, from the raw (encoded) URL. */
const splitPath = (url: URL, root: RegExp) => {
  const m = root.exec(url.pathname)
  if (!m) return undefined
  return { prefix: m[1]!, rest: (m[2] ?? '') + url.search }
}

/** The request the worker's server gets: no credentials of ours, the prefix it is served under. */
const forwardedRequest = (c: Context<AppEnv>, prefix: string): Request => {
  const headers = new Headers(c.req.raw.headers)
  for (const name of CREDENTIALS) headers.delete(name)
  headers.set('x-forwarded-prefix', prefix)
  return new Request(c.req.raw.url, {
    method: c.req.method,
    headers,
    signal: c.req.raw.signal,
    ...(c.req.raw.body ? { body: c.req.raw.body, duplex: 'half' } : {}),
  } as RequestInit)
}

/** Forwards the request in `c` to `port` inside `record`'s container, or redirects to `prefix/`. */
const proxy = async (
  c: Context<AppEnv>,
  opts: PreviewOptions,
  record: WorkerRecord,
  port: number,
  split: { prefix: string; rest: string },
  link: boolean,
): Promise<Response> => {
  // Without the slash, the page's relative URLs would resolve one level up, outside the prefix.
  if (split.rest === '' || split.rest.startsWith('?'))
    return c.redirect(`${split.prefix}/${split.rest}`, 308)
  if (!opts.forward) {
    throw new UnavailableError(
      'previews need a runtime that holds a stream both ways into workers (Docker in this process)',
      'not_configured',
    )
  }
  const target = {
    workerId: record.workerId,
    containerId: record.containerId,
    port,
    path: split.rest,
  }
  const req = forwardedRequest(c, split.prefix)
  if (opts.upgrade && c.req.header('upgrade')?.toLowerCase() === 'websocket') {
    const upgraded = await opts.upgrade(target, c, req.headers)
    if (upgraded) return upgraded
  }
  const res = await opts.forward(target, req)
  return guarded(res, split.prefix, port, link)
}

const API_ROOT = /^(\/v1\/workers\/[^/]+\/ports\/[^/]+)(\/.*)?$/
const LINK_ROOT = new RegExp(`^(${PREVIEW_LINK_ROOT}/[^/]+/[^/]+/[^/]+)(/.*)?$`)

/**
 * `ANY /previews/<workerId>/<port>/<expiry>.<tag>/…`: a preview through a signed link, no
 * token needed. Registered before the browser guard: the sandboxed page's own requests come
 * from an opaque origin, and the link is the only credential this route takes.
 */
export const registerPreviewLinkRoute = (
  app: Hono<AppEnv>,
  service: WorkerService,
  opts: PreviewOptions,
) => {
  const links = opts.links
  if (!links) return
  app.all(`${PREVIEW_LINK_ROOT}/:id/:port/:credential/*`, async (c) => {
    const workerId = c.req.param('id')
    const port = portOf(c.req.param('port'))
    if (!(await links.check(workerId, port, c.req.param('credential')))) {
      throw new ForbiddenError(
        'this preview link is invalid or has expired: ask for a new one',
        'preview_link_invalid',
      )
    }
    const record = await runningWorker(service, workerId)
    // The page's own cross-origin requests with JSON bodies or custom headers ask first; the
    // link carries the access, so they are answered here rather than left to the server.
    const asked = c.req.header('access-control-request-method')
    if (c.req.method === 'OPTIONS' && asked) {
      return c.body(null, 204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': asked,
        'access-control-allow-headers': c.req.header('access-control-request-headers') ?? '',
        'access-control-max-age': '600',
      })
    }
    const split = splitPath(new URL(c.req.url), LINK_ROOT)!
    return proxy(c, opts, record, port, split, true)
  })
}

/**
 * The authenticated preview routes, under `/v1` (the same tokens as every route):
 * - `GET /v1/workers/:id/ports`: the TCP ports the worker listens on;
 * - `POST /v1/workers/:id/preview-links` `{ port, ttlSeconds? }`: a signed, expiring link;
 * - `ANY /v1/workers/:id/ports/:port/…`: the request, forwarded to that port in the worker.
 */
export const registerPreviewRoutes = (
  app: Hono<AppEnv>,
  service: WorkerService,
  opts: PreviewOptions,
) => {
  app.get('/v1/workers/:id/ports', async (c) => {
    const workerId = c.req.param('id')
    await mayPreview(c, service, workerId)
    const record = await runningWorker(service, workerId)
    // Read as the worker user, like everything done in a worker on anyone's behalf.
    const result = await service.runtime.exec(record.containerId, {
      argv: ['/bin/cat', '/proc/net/tcp', '/proc/net/tcp6'],
      timeoutMs: 10_000,
      maxOutputBytes: 4 * 1024 * 1024,
    })
    const ports = parseListeningPorts(result.stdout).map((p) => ({
      ...p,
      path: `/v1/workers/${workerId}/ports/${p.port}/`,
    }))
    return c.json({ workerId, ports })
  })

  app.post('/v1/workers/:id/preview-links', async (c) => {
    const workerId = c.req.param('id')
    await mayPreview(c, service, workerId)
    if (!opts.links) throw new UnavailableError('preview links are off', 'not_configured')
    const parsed = linkBodySchema.safeParse(await readJsonObject(c))
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({
        path: i.path.join('.') || '(body)',
        message: i.message,
      }))
      throw new BadRequestError(
        `body: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
        details,
      )
    }
    // An hour unless asked otherwise, never past the operator's maximum.
    const { port, ttlSeconds = Math.min(3600, opts.maxLinkSeconds) } = parsed.data
    if (ttlSeconds > opts.maxLinkSeconds) {
      throw new BadRequestError(
        `ttlSeconds: at most ${opts.maxLinkSeconds} (PREVIEW_LINK_MAX_SECONDS)`,
        [{ path: 'ttlSeconds', message: `at most ${opts.maxLinkSeconds}` }],
      )
    }
    await service.get(workerId)
    const expires = Math.floor(Date.now() / 1000) + ttlSeconds
    const path = await opts.links.path({ workerId, port, expires })
    return c.json({ workerId, port, path, expiresAt: new Date(expires * 1000).toISOString() }, 201)
  })

  app.all('/v1/workers/:id/ports/:port/*', async (c) => {
    const workerId = c.req.param('id')
    const port = portOf(c.req.param('port'))
    await mayPreview(c, service, workerId)
    const record = await runningWorker(service, workerId)
    const split = splitPath(new URL(c.req.url), API_ROOT)!
    return proxy(c, opts, record, port, split, false)
  })
}
