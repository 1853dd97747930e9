import { accessLog } from '../hono/access-log.ts'
import { Hono } from 'hono'
import { catalog, type Command } from '../core/catalog.ts'
import { NotFoundError, UnavailableError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import type { WorkerService } from '../core/service.ts'
import { docsPage } from './docs.ts'
import { errorResponse, onError } from '../hono/errors.ts'
import { buildOpenApi } from './openapi.ts'
import { registerCommandRoutes } from './routes.ts'
import { Dispatcher, type Forwarder } from '../core/dispatcher.ts'
import { registerEventRoute, type EventFeed } from './events.ts'
import { DEFAULT_SSE_LIMITS, SseStreams } from './sse.ts'
import { authenticate, principalOf, type AppEnv, type AuthOptions } from './auth.ts'
import { browserGuard } from '../hono/browser-guard.ts'
import { registerGateway, type GatewayOptions } from '../gateway/gateway.ts'
import type { UiAssets } from '../ui/assets.ts'
import { registerUi } from '../ui/routes.ts'

export interface AppOptions {
  service: WorkerService
  logger?: Logger
  version?: string
  /** Largest JSON body (default 4 MiB). */
  maxBodyBytes?: number
  /** Largest file body (default 16 MiB). */
  maxFileBytes?: number
  /** Event streams (SSE) open at once on this listener (default 100). */
  maxSseStreams?: number
  /** Bytes an SSE client may leave unread before it is dropped (default 4 MiB). */
  maxSseQueuedBytes?: number
  /** Who may call: API token, worker tokens, and whether unauthenticated calls are refused. */
  auth?: Omit<AuthOptions, 'service'>
  /** Forwards commands for workers owned by other instances (Redis on). */
  remote?: Forwarder
  /** Runs the commands (default: one over `service` and `remote`). */
  dispatcher?: Dispatcher
  /** Source of `GET /v1/events` (default: this process's event bus). */
  events?: EventFeed
  /** Readiness checks by dependency name; each resolves when it answers (default: docker ping). */
  ready?: Record<string, () => Promise<unknown>>
  /**
   * `operator` (default): the whole API, docs and probes. `worker`: the listener workers reach,
   * which serves only the `/v1` routes and `/healthz`.
   */
  surface?: 'operator' | 'worker'
  /** Host names besides loopback ones that requests may carry (ALLOWED_HOSTS, HOST). */
  allowedHosts?: readonly string[]
  /** The model gateway (`/model/<plugin>/…`), where workers reach this app. */
  gateway?: Omit<GatewayOptions, 'models' | 'logger'>
  /** The dashboard's files: with them, the operator surface serves the dashboard at `/ui`. */
  ui?: UiAssets
}

/**
 * The HTTP API: one route per catalog command, plus health, readiness, OpenAPI and docs
 * (the worker surface: the `/v1` routes and health only). Browsers on other sites are refused.
 * @example
 * const app = createApp({ service })
 * const res = await app.request('/v1/plugins')
 */
export const createApp = (opts: AppOptions): Hono<AppEnv> => {
  const logger = opts.logger ?? noopLogger
  const app = new Hono<AppEnv>()
  app.onError(onError(logger))
  app.notFound((c) =>
    errorResponse(
      c,
      new NotFoundError(`no route ${c.req.method} ${c.req.path}`, 'route_not_found'),
    ),
  )

  app.use(accessLog(logger))
  // Host is checked where a call without credentials is an operator's; a bearer token is never
  // sent by a browser on its own, so with one required a rebound name reaches nothing.
  const checkHost = !opts.auth?.apiToken && !opts.auth?.required
  app.use(browserGuard({ checkHost, allowedHosts: opts.allowedHosts ?? [] }))

  // Workers' model calls carry the worker's own model credential, not a token: checked there.
  if (opts.gateway) {
    registerGateway(app, { ...opts.gateway, models: opts.service.models, logger })
  }
  app.use('/v1/*', authenticate({ ...opts.auth, service: opts.service }))
  app.get('/v1/whoami', async (c) => {
    const p = principalOf(c)
    if (p.kind !== 'worker') return c.json({ kind: 'operator' })
    const status = await opts.service.status({ workerId: p.workerId })
    return c.json({
      kind: 'worker',
      workerId: p.workerId,
      tools: p.tools,
      parentId: status.parentId ?? null,
      agent: status.agent,
    })
  })

  const streams = new SseStreams(
    {
      maxStreams: opts.maxSseStreams ?? DEFAULT_SSE_LIMITS.maxStreams,
      maxQueuedBytes: opts.maxSseQueuedBytes ?? DEFAULT_SSE_LIMITS.maxQueuedBytes,
    },
    logger,
  )
  const dispatcher =
    opts.dispatcher ??
    new Dispatcher({
      service: opts.service,
      logger,
      ...(opts.remote ? { forwarder: opts.remote } : {}),
    })
  registerCommandRoutes(app, catalog as readonly Command[], dispatcher, {
    maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024,
    maxFileBytes: opts.maxFileBytes ?? 16 * 1024 * 1024,
    streams,
  })

  registerEventRoute(app, opts.events ?? opts.service.events, streams)

  app.get('/healthz', (c) => c.json({ ok: true }))
  if (opts.surface === 'worker') return app

  const ready = opts.ready ?? { docker: () => opts.service.runtime.ping() }
  app.get('/readyz', async (c) => {
    const names = Object.keys(ready)
    const results = await Promise.allSettled(names.map((name) => ready[name]!()))
    const failed: string[] = []
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return
      failed.push(names[i]!)
      // The detail (addresses, driver messages) goes to the log; callers learn only what failed.
      logger.warn('not ready', {
        dependency: names[i],
        error: r.reason instanceof Error ? r.reason.message : String(r.reason),
      })
    })
    const checks = Object.fromEntries(
      names.map((name) => [name, failed.includes(name) ? 'failed' : 'ok']),
    )
    if (failed.length === 0) return c.json({ ready: true, ...checks })
    const error = new UnavailableError(
      `not ready: ${failed.join(', ')} did not answer`,
      'not_ready',
    )
    return errorResponse(c, error, { ready: false, ...checks })
  })
  const openapi = buildOpenApi(catalog as readonly Command[], { version: opts.version ?? '0.0.0' })
  app.get('/openapi.json', (c) => c.json(openapi))
  app.get('/docs', (c) => c.html(docsPage))
  if (opts.ui) {
    const token = opts.auth?.apiToken
    registerUi(app, { assets: opts.ui, ...(token ? { apiToken: token } : {}) })
  }
  return app
}
