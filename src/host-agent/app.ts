import { accessLog } from '../hono/access-log.ts'
import { Hono } from 'hono'
import { NotFoundError } from '../core/errors.ts'
import { noopLogger, type Logger } from '../core/logger.ts'
import type { ContainerRuntime } from '../core/runtime.ts'
import { browserGuard } from '../hono/browser-guard.ts'
import { errorResponse, onError } from '../hono/errors.ts'
import { bearerAuth } from './auth.ts'
import { registerContainerRoutes } from './container-routes.ts'
import type { AgentDeps, CapacityReport } from './deps.ts'
import { registerEngineRoutes } from './engine-routes.ts'
import { registerExecRoutes } from './exec-routes.ts'
import type { NdjsonOptions } from './ndjson-response.ts'
import { runtimeCapacity } from './runtime-capacity.ts'

/** Options of `createHostAgentApp`. */
export interface HostAgentOptions {
  /** The runtime the API exposes, normally a `DockerRuntime`. */
  runtime: ContainerRuntime
  /** Bearer token every `/v1` route requires; `undefined` only for loopback test setups. */
  token: string | undefined
  /**
   * Names (any port) besides loopback ones that `Host` may carry while there is no token
   * (HOST_AGENT_ALLOWED_HOSTS, HOST_AGENT_HOST).
   */
  allowedHosts?: readonly string[]
  /** This host's name, reported by `/healthz` and `/v1/capacity`. */
  name: string
  /** Host size and reserved limits; default: counts from the runtime, sizes unknown. */
  capacity?: () => Promise<CapacityReport>
  logger?: Logger
  /** Largest request body: spec, exec stdin, file or build context (default 256 MiB). */
  maxBodyBytes?: number
  /** Commit delay and heartbeat interval of streamed answers. */
  stream?: NdjsonOptions
}

/**
 * The host agent: a `ContainerRuntime` over HTTP, so a core without a Docker socket (another
 * process, another machine, a serverless runtime) can drive the containers of this host
 * through `RemoteRuntime`. The token is worth as much as the Docker socket: keep it secret.
 * What browsers send on another site's behalf is refused, as by the service.
 * See wire.ts for the routes.
 *
 * @example
 * const app = createHostAgentApp({ runtime: new DockerRuntime(), token, name: 'docker-1' })
 * serve({ fetch: app.fetch, port: 8081, hostname: '127.0.0.1' })
 */
export const createHostAgentApp = (opts: HostAgentOptions): Hono => {
  const logger = opts.logger ?? noopLogger
  const deps: AgentDeps = {
    runtime: opts.runtime,
    name: opts.name,
    logger,
    capacity: opts.capacity ?? runtimeCapacity(opts.runtime),
    maxBodyBytes: opts.maxBodyBytes ?? 256 * 1024 * 1024,
    stream: { logger, ...opts.stream },
  }
  const app = new Hono()
  app.onError(onError(logger))
  app.notFound((c) =>
    errorResponse(
      c,
      new NotFoundError(`no route ${c.req.method} ${c.req.path}`, 'route_not_found'),
    ),
  )
  app.use(accessLog(logger))
  // A web page must not drive Docker through this agent: other origins are refused always, and
  // without a token (where a call that names no credential passes) so are foreign Host names,
  // which is DNS rebinding. JSON routes also take only JSON bodies (request-body.ts).
  app.use(
    browserGuard({
      checkHost: opts.token === undefined,
      allowedHosts: opts.allowedHosts ?? [],
      allowedHostsSetting: 'HOST_AGENT_ALLOWED_HOSTS',
    }),
  )
  app.get('/healthz', (c) => c.json({ ok: true, name: opts.name }))
  app.use('/v1/*', bearerAuth(opts.token))
  registerEngineRoutes(app, deps)
  registerContainerRoutes(app, deps)
  registerExecRoutes(app, deps)
  return app
}
