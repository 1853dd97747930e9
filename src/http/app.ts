import { accessLog } from './access-log.ts'
import { Hono } from 'hono'
import { catalog, type Command } from '../core/catalog.ts'
import { NotFoundError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import type { WorkerService } from '../core/service.ts'
import { docsPage } from './docs.ts'
import { errorBody, onError } from './errors.ts'
import { buildOpenApi } from './openapi.ts'
import { registerCommandRoutes, type RemoteDispatch } from './routes.ts'
import { registerEventRoute, type EventFeed } from './events.ts'
import { authenticate, principalOf, type AppEnv, type AuthOptions } from './auth.ts'

export interface AppOptions {
  service: WorkerService
  logger?: Logger
  version?: string
  /** Largest JSON body (default 4 MiB). */
  maxBodyBytes?: number
  /** Largest file body (default 16 MiB). */
  maxFileBytes?: number
  /** Who may call: API token, worker tokens, and whether unauthenticated calls are refused. */
  auth?: Omit<AuthOptions, 'service'>
  /** Forwards commands for workers owned by other instances (Redis on). */
  remote?: RemoteDispatch
  /** Source of `GET /v1/events` (default: this process's event bus). */
  events?: EventFeed
  /** Readiness probe beyond "the process answers" (default: Docker answers a ping). */
  ready?: () => Promise<Record<string, string>>
}

/**
 * The HTTP API: one route per catalog command, plus health, readiness, OpenAPI and docs.
 * @example
 * const app = createApp({ service })
 * const res = await app.request('/v1/plugins')
 */
export const createApp = (opts: AppOptions): Hono<AppEnv> => {
  const logger = opts.logger ?? noopLogger
  const app = new Hono<AppEnv>()
  app.onError(onError(logger))
  app.notFound((c) =>
    c.json(errorBody(new NotFoundError(`no route ${c.req.method} ${c.req.path}`, 'route_not_found')), 404),
  )

  app.use(accessLog(logger))

  app.use('/v1/*', authenticate({ ...opts.auth, service: opts.service }))
  app.get('/v1/whoami', async (c) => {
    const p = principalOf(c)
    if (p.kind === 'operator') return c.json({ kind: 'operator' })
    const status = await opts.service.status({ workerId: p.workerId })
    return c.json({ kind: 'worker', workerId: p.workerId, tools: p.tools, parentId: status.parentId ?? null, agent: status.agent })
  })

  registerCommandRoutes(app, catalog as readonly Command[], opts.service, {
    maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024,
    maxFileBytes: opts.maxFileBytes ?? 16 * 1024 * 1024,
  }, opts.remote)

  registerEventRoute(app, opts.events ?? opts.service.events)

  app.get('/healthz', (c) => c.json({ ok: true }))
  app.get('/readyz', async (c) => {
    try {
      const checks = opts.ready ? await opts.ready() : (await opts.service.runtime.ping(), { docker: 'ok' })
      return c.json({ ready: true, ...checks })
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      return c.json({ ready: false, error: { code: 'not_ready', message } }, 503)
    }
  })
  const openapi = buildOpenApi(catalog as readonly Command[], { version: opts.version ?? '0.0.0' })
  app.get('/openapi.json', (c) => c.json(openapi))
  app.get('/docs', (c) => c.html(docsPage))
  return app
}
