/**
 * Serverless entry (workerd, Cloudflare Workers): the core as a fetch handler. Containers are
 * reached through host agents over HTTP (`HOST_AGENT_URL`); plugins are bundled statically
 * (src/generated/plugins.ts, written by `npm run build:worker`); state lives with the host
 * agents as container labels. Nothing here may import node:*, dockerode or ioredis.
 */
import { redactSecrets, type Logger } from './core/logger.ts'
import { PluginRegistry } from './core/plugin/registry.ts'
import { SpawnerError } from './core/errors.ts'
import { httpStatusOf } from './core/http-status.ts'
import { bundledPlugins } from './generated/plugins.ts'
import { errorBody } from './hono/errors.ts'
import { runtimeFromConfig } from './remote/runtime-from-config.ts'
import { readSettings } from './settings.ts'
import { createSpawner, type Spawner } from './spawner.ts'

/** Vars and secrets of the deployment (see wrangler.example.toml); read by `readSettings`. */
export interface Env {
  HOST_AGENT_URL: string
  HOST_AGENT_TOKEN: string
  SPAWNER_API_TOKEN?: string
  SPAWNER_TOKEN_SECRET?: string
  WORKER_IMAGE?: string
  ORCHESTRATOR_URL?: string
  LOG_LEVEL?: string
  [name: string]: unknown
}

const consoleLogger = (
  level: string | undefined,
  secrets: () => readonly string[] = () => [],
): Logger => {
  const order = ['debug', 'info', 'warn', 'error']
  const min = Math.max(0, order.indexOf(level ?? 'info'))
  const emit = (lvl: string) => (msg: string, fields?: object) => {
    if (order.indexOf(lvl) < min) return
    console.log(
      redactSecrets(
        JSON.stringify({ level: lvl, time: new Date().toISOString(), msg, ...fields }),
        secrets(),
      ),
    )
  }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}

/** A deployment that cannot serve safely: every request gets this answer instead. */
class NotConfiguredError extends SpawnerError {
  constructor(message: string) {
    super('not_configured', message)
  }
}

interface Core {
  spawner: Spawner
  app: ReturnType<Spawner['api']>
  /** Workers known again from their labels, once per isolate. */
  recovered: Promise<unknown>
}

let core: Core | NotConfiguredError | undefined

/**
 * Builds the core once per isolate, or says why it cannot: a serverless deployment is reachable
 * from anywhere, so it never serves without `SPAWNER_API_TOKEN`, and it keeps no disk, so the key
 * for worker tokens and worker state must be `SPAWNER_TOKEN_SECRET`.
 */
const build = (env: Env): Core | NotConfiguredError => {
  const registry = PluginRegistry.fromModules(bundledPlugins)
  // Every value the logs must never show: the deployment's tokens and the plugins' secrets.
  const secrets = [
    ...['SPAWNER_API_TOKEN', 'SPAWNER_TOKEN_SECRET', 'HOST_AGENT_TOKEN'],
    ...registry.ordered.flatMap((p) => (p.secrets ?? []).map((s) => s.name)),
  ].flatMap((name) => (typeof env[name] === 'string' ? [env[name]] : []))
  const logger = consoleLogger(env.LOG_LEVEL, () => secrets)
  let settings
  try {
    settings = readSettings(env)
  } catch (err) {
    return new NotConfiguredError((err as Error).message)
  }
  const missing = (
    ['HOST_AGENT_URL', 'HOST_AGENT_TOKEN', 'SPAWNER_API_TOKEN', 'SPAWNER_TOKEN_SECRET'] as const
  ).filter((name) => !settings[name])
  if (missing.length > 0) {
    logger.error('refusing to serve: settings missing', { missing })
    return new NotConfiguredError(
      `this deployment is not configured: set ${missing.join(', ')} (vars / secrets)`,
    )
  }
  const hostEnv = Object.fromEntries(
    Object.entries(env).filter(([, v]) => typeof v === 'string'),
  ) as Record<string, string>
  const spawner = createSpawner({
    settings,
    runtime: runtimeFromConfig(settings.HOST_AGENT_URL!, settings.HOST_AGENT_TOKEN),
    plugins: () => registry,
    hostEnv,
    secret: settings.SPAWNER_TOKEN_SECRET!,
    logger,
  })
  return {
    spawner,
    app: spawner.api(),
    // Serverless runtimes keep no timers between requests: a cron trigger runs the deadlines.
    recovered: spawner
      .start({ timers: false })
      .catch((err) => logger.warn('recovery failed', { error: String(err) })),
  }
}

export default {
  fetch(request: Request, env: Env, ctx: unknown): Response | Promise<Response> {
    core ??= build(env)
    if (core instanceof NotConfiguredError) {
      return Response.json(errorBody(core), { status: httpStatusOf(core) })
    }
    return core.app.fetch(request, env, ctx as never)
  },
  /** A cron trigger runs the TTL / idle pass (serverless runtimes keep no timers between requests). */
  async scheduled(_event: unknown, env: Env): Promise<void> {
    core ??= build(env)
    if (core instanceof NotConfiguredError) return
    await core.recovered
    await core.spawner.lifecycle.tick()
  },
}
