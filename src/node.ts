/**
 * Node entry: HTTP API, in-process Docker runtime and plugin watcher in one process; with
 * HOST_AGENT_URL, containers run on host agents instead (`npm run host-agent` next to Docker).
 * Settings come from the environment (see src/node/settings.ts and the README).
 */
import { readFileSync } from 'node:fs'
import { serve } from '@hono/node-server'
import type Dockerode from 'dockerode'
import type { ContainerRuntime } from './core/runtime.ts'
import { UnavailableError } from './core/errors.ts'
import { DockerRuntime } from './host/docker-runtime.ts'
import { createDocker, describeDockerTarget } from './host/docker-connection.ts'
import { MultiRuntime } from './host/multi-runtime.ts'
import { runtimeFromConfig } from './host/runtime-from-config.ts'
import { logRotationOf } from './host/log-rotation-settings.ts'
import { createJsonLogger } from './node/logger.ts'
import { PluginHost } from './node/plugin-loader.ts'
import { registerPluginResolver } from './node/plugin-resolve.ts'
import { readNodeSettings } from './node/settings.ts'
import { WorkerSocket, defaultWorkerSocketDir } from './node/worker-socket.ts'
import { bridgeGateway, isLoopback, tokenSecret } from './node/auth-setup.ts'
import { readHostFile } from './node/host-files.ts'
import { redisSettingsSchema, startRedisAdapter, type RedisAdapter } from './redis/index.ts'
import { describeIssues } from './core/validation.ts'
import { createSpawner, type AppExtras } from './spawner.ts'

/** The password in a Redis URL, so logs never show it. */
const redisPassword = (raw: string | undefined) => {
  try {
    return raw ? decodeURIComponent(new URL(raw).password) : undefined
  } catch {
    return undefined
  }
}

const fail = (line: string): never => {
  process.stderr.write(`workers-spawner: ${line}\n`)
  process.exit(1)
}

/** A URL without its password, for logs and messages. */
const redactUrl = (raw: string) => {
  try {
    const url = new URL(raw)
    if (url.password) url.password = '***'
    return url.toString()
  } catch {
    return '(unparsable URL)'
  }
}

const main = async () => {
  let settings
  try {
    settings = readNodeSettings(process.env)
  } catch (err) {
    return fail((err as Error).message)
  }
  const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

  let plugins: PluginHost | undefined
  // Every declared secret's value, so the logger can scrub it wherever it shows up.
  let secret: string | undefined
  const secretValues = () =>
    [
      ...(plugins?.current.ordered ?? []).flatMap((p) => p.secrets ?? []).map((s) => process.env[s.name]),
      settings.HOST_AGENT_TOKEN,
      settings.SPAWNER_API_TOKEN,
      secret,
      redisPassword(process.env.REDIS_URL),
    ].filter((v): v is string => typeof v === 'string' && v.length > 0)
  const logger = createJsonLogger({ level: settings.LOG_LEVEL, secrets: secretValues })

  if (!isLoopback(settings.HOST) && !settings.SPAWNER_API_TOKEN) {
    return fail(
      `refusing to listen on ${settings.HOST} without SPAWNER_API_TOKEN: set a token (16+ characters) ` +
        'or listen on 127.0.0.1',
    )
  }
  // Isolated workers on host agents reach this core over the network through the agents' relays:
  // a call without a token must never be an operator's there.
  if (settings.HOST_AGENT_URL && !settings.SPAWNER_API_TOKEN) {
    return fail('refusing to start with HOST_AGENT_URL but no SPAWNER_API_TOKEN: set a token (16+ characters)')
  }
  // Containers run on the local Docker Engine, or on host agents when HOST_AGENT_URL is set.
  let runtime: ContainerRuntime
  let docker: Dockerode | undefined
  let target: string
  let workerSocket: WorkerSocket | undefined
  if (settings.HOST_AGENT_URL) {
    let remote
    try {
      remote = runtimeFromConfig(settings.HOST_AGENT_URL, settings.HOST_AGENT_TOKEN, { logger })
    } catch (err) {
      return fail((err as Error).message)
    }
    const agents = remote instanceof MultiRuntime ? remote.agents : [remote]
    target = agents.map((a) => `${a.name}=${a.url}`).join(',')
    try {
      // Several agents: enough that one answers; the others are left out until they do.
      await remote.ping()
    } catch (err) {
      if (err instanceof UnavailableError && err.code === 'host_agent_unauthorized') return fail(err.message)
      const reason = err instanceof UnavailableError ? err.message : `host agent at ${target}: ${String(err)}`
      return fail(`${reason}; start it (npm run host-agent) or fix HOST_AGENT_URL`)
    }
    runtime = remote
  } else {
    target = describeDockerTarget(process.env)
    docker = createDocker()
    try {
      // Quiet preflight: when Docker is missing, the one line below is all the operator sees.
      await new DockerRuntime({ docker, target }).ping()
    } catch (err) {
      const reason = err instanceof UnavailableError ? err.message : `Docker Engine at ${target}: ${String(err)}`
      return fail(`${reason}; start Docker or point DOCKER_HOST at it`)
    }
    workerSocket = new WorkerSocket(settings.WORKER_SOCKET_DIR ?? defaultWorkerSocketDir(settings.SPAWNER_INSTANCE))
    runtime = new DockerRuntime({ docker, target, logger, logRotation: logRotationOf(settings), workerApi: workerSocket })
  }

  registerPluginResolver()
  plugins = new PluginHost(settings.PLUGINS_DIR, logger, {
    nodeModules: settings.PLUGIN_NODE_MODULES,
    names: settings.PLUGIN_PACKAGES,
  })
  await plugins.reload()
  if (settings.WATCH_PLUGINS === '1') plugins.watch()
  const host = plugins
  process.on('SIGHUP', () => {
    host.reload().catch((err) => logger.error('plugin reload failed', { error: String(err) }))
  })

  if (!(await runtime.hasImage(settings.WORKER_IMAGE))) {
    logger.warn('worker image missing: creates will fail until it is built', {
      image: settings.WORKER_IMAGE,
      hint: 'npm run image:worker (or: npm run image:base && BASE_IMAGE=workers-spawner/base:trixie npm run image:worker)',
    })
  }

  try {
    secret = tokenSecret(settings)
  } catch (err) {
    return fail(`cannot keep the token key in ~/.workers-spawner: ${(err as Error).message}; set SPAWNER_TOKEN_SECRET`)
  }
  let spawner
  try {
    spawner = createSpawner({
      settings,
      runtime,
      plugins: () => host.current,
      hostEnv: process.env,
      secret,
      logger,
      version,
      readHostFile,
    })
  } catch (err) {
    return fail((err as Error).message)
  }
  const { tokens } = spawner
  // Isolated workers mount the socket's directory: the engine cannot reach into them (their
  // state file included) while it is missing, so it exists before anything is recovered.
  await workerSocket?.dirFor()
  await spawner.start()
  let redis: RedisAdapter | undefined
  if (process.env.REDIS_URL) {
    const parsed = redisSettingsSchema.safeParse(process.env)
    if (!parsed.success) {
      return fail(`invalid environment: ${describeIssues(parsed.error).map((i) => `${i.path}: ${i.message}`).join('; ')}`)
    }
    try {
      redis = await startRedisAdapter({ settings: parsed.data, service: spawner.service, instance: settings.SPAWNER_INSTANCE, logger })
    } catch (err) {
      return fail(`cannot use Redis at ${redactUrl(process.env.REDIS_URL)}: ${(err as Error).message}`)
    }
  }
  const adapter = redis
  const extras: AppExtras = adapter
    ? {
        events: adapter.feed,
        remote: adapter.remote,
        ready: { docker: () => runtime.ping(), redis: () => adapter.redis.ping() },
      }
    : {}
  const app = spawner.api(extras)
  // Isolated workers have no network: the worker API on a socket is their only way here.
  const socketPath = await workerSocket?.listen(spawner.workerApi(extras).fetch).catch(
    (err: Error) => fail(`cannot serve isolated workers: ${err.message} (WORKER_SOCKET_DIR)`),
  )
  if (socketPath) logger.info('listening for isolated workers', { socket: socketPath })

  // Open workers call back (orchestrator CLI) through the Docker bridge. With a loopback HOST, a
  // second listener on the bridge serves them, and it never takes an unauthenticated call.
  // Only with Docker in this process: workers on host agents reach it through ORCHESTRATOR_URL.
  let workerServer: ReturnType<typeof serve> | undefined
  if (!settings.ORCHESTRATOR_URL && !docker) {
    logger.warn('no ORCHESTRATOR_URL: workers on host agents cannot reach this service; set it to a URL they can reach')
  }
  if (!settings.ORCHESTRATOR_URL && docker) {
    if (isLoopback(settings.HOST)) {
      const gateway = await bridgeGateway(docker)
      if (gateway) {
        const workerApp = spawner.workerApi(extras)
        await new Promise<void>((resolve) => {
          workerServer = serve({ fetch: workerApp.fetch, port: settings.WORKER_PORT ?? 0, hostname: gateway }, (info) => {
            tokens.url = `http://host.docker.internal:${info.port}`
            logger.info('listening for workers', { address: `${gateway}:${info.port}`, url: tokens.url })
            resolve()
          })
          workerServer.on('error', (err) => {
            logger.warn('no listener for workers; the orchestrator CLI will not reach this service', { error: err.message })
            resolve()
          })
        })
      } else {
        logger.warn('no Docker bridge found; set ORCHESTRATOR_URL so workers can reach this service')
      }
    }
  }

  const server = serve({ fetch: app.fetch, port: settings.PORT, hostname: settings.HOST }, (info) => {
    if (!tokens.url) tokens.url = `http://host.docker.internal:${info.port}`
    logger.info('listening', {
      url: `http://${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}`,
      docs: `http://${settings.HOST}:${info.port}/docs`,
      ...(docker ? { docker: target } : { hostAgents: target }),
      image: settings.WORKER_IMAGE,
      redis: adapter ? redactUrl(process.env.REDIS_URL ?? '') : 'off',
      instance: settings.SPAWNER_INSTANCE,
      version,
    })
  })
  server.on('error', (err) => fail(`cannot listen on ${settings.HOST}:${settings.PORT}: ${err.message}`))

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    logger.info('shutting down', { signal })
    host.close()
    void spawner.close()
    // Redis first: requests in flight finish and are answered before the process goes.
    void (adapter?.close() ?? Promise.resolve())
      .catch((err) => logger.error('redis shutdown failed', { error: String(err) }))
      .finally(() => {
        workerServer?.close()
        void workerSocket?.close()
        server.close(() => process.exit(0))
        setTimeout(() => process.exit(0), 5000).unref()
      })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

await main()
