/**
 * Serverless entry (workerd, Cloudflare Workers): the core as a fetch handler. Containers are
 * reached through host agents over HTTP (`HOST_AGENT_URL`); plugins are bundled statically
 * (src/generated/plugins.ts, written by `npm run build:worker`); state lives with the host
 * agents as container labels. Nothing here may import node:*, dockerode or ioredis.
 */
import { TokenSigner } from './core/auth/jwt.ts'
import { Lifecycle } from './core/lifecycle.ts'
import { recoverWorkers } from './core/recovery.ts'
import type { Logger } from './core/logger.ts'
import { PluginRegistry } from './core/plugin/registry.ts'
import { WorkerService } from './core/service.ts'
import { bundledPlugins } from './generated/plugins.ts'
import { createApp } from './http/app.ts'
import { runtimeFromConfig } from './host/runtime-from-config.ts'

/** Vars and secrets of the deployment (see wrangler.example.toml). */
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

const consoleLogger = (level: string | undefined): Logger => {
  const order = ['debug', 'info', 'warn', 'error']
  const min = Math.max(0, order.indexOf(level ?? 'info'))
  const emit = (lvl: string) => (msg: string, fields?: object) => {
    if (order.indexOf(lvl) >= min) console.log(JSON.stringify({ level: lvl, time: new Date().toISOString(), msg, ...fields }))
  }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}

interface Core {
  app: ReturnType<typeof createApp>
  lifecycle: Lifecycle
  /** Workers known again from their labels, once per isolate. */
  recovered: Promise<unknown>
}

let core: Core | undefined

const build = (env: Env): Core => {
  if (!env.HOST_AGENT_URL || !env.HOST_AGENT_TOKEN) {
    throw new Error('HOST_AGENT_URL and HOST_AGENT_TOKEN must be set (vars / secrets)')
  }
  const logger = consoleLogger(env.LOG_LEVEL)
  const registry = PluginRegistry.fromModules(bundledPlugins)
  const hostEnv = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string')) as Record<string, string>
  const secret = env.SPAWNER_TOKEN_SECRET ?? env.SPAWNER_API_TOKEN
  const service = new WorkerService({
    runtime: runtimeFromConfig(env.HOST_AGENT_URL, env.HOST_AGENT_TOKEN),
    plugins: () => registry,
    baseImage: env.WORKER_IMAGE ?? 'workers-spawner/universal-worker:latest',
    hostEnv,
    logger,
    ...(secret && env.ORCHESTRATOR_URL ? { tokens: { signer: new TokenSigner(secret), url: env.ORCHESTRATOR_URL } } : {}),
  })
  const app = createApp({
    service,
    logger,
    auth: {
      ...(env.SPAWNER_API_TOKEN ? { apiToken: env.SPAWNER_API_TOKEN } : {}),
      ...(secret ? { signer: new TokenSigner(secret) } : {}),
    },
  })
  return {
    app,
    lifecycle: new Lifecycle(service, { logger }),
    recovered: recoverWorkers(service, { logger }).catch((err) => logger.warn('recovery failed', { error: String(err) })),
  }
}

export default {
  fetch(request: Request, env: Env, ctx: unknown): Response | Promise<Response> {
    core ??= build(env)
    return core.app.fetch(request, env, ctx as never)
  },
  /** A cron trigger runs the TTL / idle pass (serverless runtimes keep no timers between requests). */
  async scheduled(_event: unknown, env: Env): Promise<void> {
    core ??= build(env)
    await core.recovered
    await core.lifecycle.tick()
  },
}
