/**
 * The Node service as `npm start` runs it, as a function: HTTP API, in-process Docker runtime
 * (or host agents with HOST_AGENT_URL), worker listeners, plugin watcher and Redis adapter,
 * built by `createSpawner`. `src/node.ts` calls it with the process environment; the benchmarks
 * call it too, so their figures are the users' figures.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { serve, upgradeWebSocket } from '@hono/node-server'
import { WebSocketServer } from 'ws'
import type Dockerode from 'dockerode'
import type { ContainerRuntime } from '../core/runtime.ts'
import { UnavailableError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { DockerRuntime } from '../docker/docker-runtime.ts'
import { createDocker, describeDockerTarget } from '../docker/docker-connection.ts'
import { WorkerDaemons, defaultDaemonDir } from '../docker/daemon/worker-daemons.ts'
import { MultiRuntime } from '../remote/multi-runtime.ts'
import { runtimeFromConfig } from '../remote/runtime-from-config.ts'
import { logRotationOf } from '../core/log-rotation.ts'
import { createJsonLogger } from './logger.ts'
import { PluginHost } from './plugin-loader.ts'
import { registerPluginResolver } from './plugin-resolve.ts'
import { readNodeSettings, type NodeSettings } from './settings.ts'
import { WorkerSocket, defaultWorkerSocketDir } from './worker-socket.ts'
import { bridgeGateway, isLoopback, tokenSecret } from './auth-setup.ts'
import { readHostFile } from './host-files.ts'
import { DirSessionStore, defaultTranscriptsDir } from './transcript-dir.ts'
import { createHttpFetch } from './http-fetch.ts'
import { createMetrics } from './metrics.ts'
import { swaggerAssets } from './docs-assets.ts'
import { previewForwarder } from './preview-forward.ts'
import { previewUpgrader } from './preview-ws.ts'
import { ensureWorkerImage, type WorkerImage } from './worker-image.ts'
import { stampedEmit } from '../core/events.ts'
import {
  redisSettingsSchema,
  startRedisAdapter,
  type RedisAdapter,
  type RedisSettings,
} from '../redis/index.ts'
import { loadUiAssets } from '../ui/assets-node.ts'
import { createSpawner, type AppExtras, type Spawner } from '../spawner.ts'
import { parseEnv } from '../settings.ts'

/** A setting or a dependency that keeps the service from starting; its message is for operators. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StartupError'
  }
}

/** The running service. */
export interface RunningNode {
  settings: NodeSettings
  spawner: Spawner
  /** The Redis adapter, with REDIS_URL. */
  redis: RedisAdapter | undefined
  /** The operator API's address, e.g. `http://127.0.0.1:8080`. */
  url: string
  logger: Logger
  /** The worker image as the service found it, and its build when it was missing. */
  workerImage: WorkerImage
  /** Reads the plugins again (what SIGHUP does); load errors are logged and listed. */
  reloadPlugins(): Promise<void>
  /** Stops reading Redis (answering what it holds), then the listeners, deadlines and watcher. */
  close(): Promise<void>
}

/** The password in a Redis URL, so logs never show it. */
const redisPassword = (raw: string | undefined) => {
  try {
    return raw ? decodeURIComponent(new URL(raw).password) : undefined
  } catch {
    return undefined
  }
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

const fail = (message: string, cause?: unknown): never => {
  throw new StartupError(message, cause === undefined ? undefined : { cause })
}

/**
 * Listens, resolving with the address once bound, rejecting when it cannot bind. With `wss`,
 * WebSocket upgrades go to the app too: any route answers one with `upgradeWebSocket`.
 */
const listen = (
  fetch: Parameters<typeof serve>[0]['fetch'],
  port: number,
  hostname: string,
  wss?: WebSocketServer,
) =>
  new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((resolve, reject) => {
    const server = serve(
      { fetch, port, hostname, ...(wss ? { websocket: { server: wss } } : {}) },
      (info) => resolve({ server, address: info }),
    )
    server.once('error', reject)
  })

/** Largest WebSocket message taken from a client (a terminal's paste, a proxied frame). */
const MAX_WS_MESSAGE_BYTES = 16 * 1024 * 1024
/** How long open WebSockets get to finish their closing handshake at shutdown. */
const WS_CLOSE_GRACE_MS = 2000

/** Ends the WebSockets still open: a close handshake first, then the sockets are cut. */
const closeWebSockets = async (wss: WebSocketServer) => {
  const open = [...wss.clients]
  for (const ws of open) ws.close(1001, 'the service is shutting down')
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all(open.map((ws) => new Promise((resolve) => ws.once('close', resolve)))),
    new Promise((resolve) => (timer = setTimeout(resolve, WS_CLOSE_GRACE_MS))),
  ])
  clearTimeout(timer)
  for (const ws of wss.clients) ws.terminate()
  wss.close()
}

const closeServer = (server: ReturnType<typeof serve> | undefined) =>
  new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))

/**
 * Starts the service from an environment (as `npm start` does with the process's).
 * Throws StartupError, with a line for the operator, when it cannot start.
 */
export const startNode = async (env: NodeJS.ProcessEnv): Promise<RunningNode> => {
  let settings: NodeSettings
  let redisSettings: RedisSettings | undefined
  try {
    settings = readNodeSettings(env)
    // The Redis adapter runs with REDIS_URL; its settings are read (and refused) up front too.
    if (settings.REDIS_URL) redisSettings = parseEnv(redisSettingsSchema, env)
  } catch (err) {
    return fail((err as Error).message, err)
  }
  const version = (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
  ).version

  let plugins: PluginHost | undefined
  // Every declared secret's value, so the logger can scrub it wherever it shows up.
  let secret: string | undefined
  const secretValues = () =>
    [
      ...(plugins?.current.ordered ?? []).flatMap((p) => p.secrets ?? []).map((s) => env[s.name]),
      // Model keys the gateway holds: never in a worker, never in a log line either.
      ...(plugins?.current.ordered ?? []).flatMap((p) => p.gateway?.keys ?? []).map((k) => env[k]),
      settings.HOST_AGENT_TOKEN,
      settings.SPAWNER_API_TOKEN,
      secret,
      redisPassword(settings.REDIS_URL),
    ].filter((v): v is string => typeof v === 'string' && v.length > 0)
  const logger = createJsonLogger({ level: settings.LOG_LEVEL, secrets: secretValues })

  if (!isLoopback(settings.HOST) && !settings.SPAWNER_API_TOKEN) {
    fail(
      `refusing to listen on ${settings.HOST} without SPAWNER_API_TOKEN: set a token (16+ characters) ` +
        'or listen on 127.0.0.1',
    )
  }
  // Isolated workers on host agents reach this core over the network through the agents' relays:
  // a call without a token must never be an operator's there.
  if (settings.HOST_AGENT_URL && !settings.SPAWNER_API_TOKEN) {
    fail(
      'refusing to start with HOST_AGENT_URL but no SPAWNER_API_TOKEN: set a token (16+ characters)',
    )
  }
  // Containers run on the local Docker Engine, or on host agents when HOST_AGENT_URL is set.
  let runtime: ContainerRuntime
  let docker: Dockerode | undefined
  let target: string
  let workerSocket: WorkerSocket | undefined
  let daemons: WorkerDaemons | undefined
  if (settings.HOST_AGENT_URL) {
    let remote
    try {
      remote = runtimeFromConfig(settings.HOST_AGENT_URL, settings.HOST_AGENT_TOKEN, { logger })
    } catch (err) {
      return fail((err as Error).message, err)
    }
    const agents = remote instanceof MultiRuntime ? remote.agents : [remote]
    target = agents.map((a) => `${a.name}=${a.url}`).join(',')
    try {
      // Several agents: enough that one answers; the others are left out until they do.
      await remote.ping()
    } catch (err) {
      if (err instanceof UnavailableError && err.code === 'host_agent_unauthorized')
        fail(err.message, err)
      const reason =
        err instanceof UnavailableError ? err.message : `host agent at ${target}: ${String(err)}`
      fail(`${reason}; start it (npm run host-agent) or fix HOST_AGENT_URL`, err)
    }
    runtime = remote
  } else {
    target = describeDockerTarget(env)
    docker = createDocker()
    try {
      // Quiet preflight: when Docker is missing, the one line below is all the operator sees.
      await new DockerRuntime({ docker, target }).ping()
    } catch (err) {
      const reason =
        err instanceof UnavailableError ? err.message : `Docker Engine at ${target}: ${String(err)}`
      fail(`${reason}; start Docker or point DOCKER_HOST at it`, err)
    }
    workerSocket = new WorkerSocket(
      settings.WORKER_SOCKET_DIR ?? defaultWorkerSocketDir(settings.SPAWNER_INSTANCE),
    )
    // Opened with the daemons off too: the directory keeps the workers' state (see engineOnly).
    const dir = settings.WORKER_DAEMON_DIR ?? defaultDaemonDir()
    daemons = await WorkerDaemons.open({ dir, logger }).catch((err: Error) =>
      fail(`cannot serve the workers' daemons: ${err.message} (WORKER_DAEMON_DIR)`, err),
    )
    runtime = new DockerRuntime({
      docker,
      target,
      logger,
      logRotation: logRotationOf(settings),
      workerApi: workerSocket,
      ...(daemons ? { daemons } : {}),
      engineOnly: settings.WORKER_DAEMON === 'off',
    })
  }

  registerPluginResolver()
  const host = new PluginHost(settings.PLUGINS_DIR, logger, {
    nodeModules: settings.PLUGIN_NODE_MODULES,
    names: settings.PLUGIN_PACKAGES,
  })
  plugins = host
  await host.reload()
  if (settings.WATCH_PLUGINS === '1') host.watch()
  // Everything started from here on is undone if a later step fails.
  const undo: (() => Promise<void> | void)[] = [() => host.close(), () => daemons?.close()]
  const unwind = async () => {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined)
  }
  try {
    try {
      secret = tokenSecret(settings)
    } catch (err) {
      fail(
        `cannot keep the token key in ~/.workers-spawner: ${(err as Error).message}; set SPAWNER_TOKEN_SECRET`,
        err,
      )
    }
    const previewLimits = {
      headersTimeoutMs: settings.PREVIEW_TIMEOUT_MS,
      maxConnections: settings.PREVIEW_MAX_CONNECTIONS,
    }
    let spawner: Spawner
    try {
      spawner = createSpawner({
        settings,
        runtime,
        plugins: () => host.current,
        hostEnv: env,
        secret: secret!,
        logger,
        version,
        readHostFile,
        fetch: createHttpFetch(),
        previewForward: previewForwarder(runtime, previewLimits, logger),
        previewUpgrade: previewUpgrader(runtime, previewLimits, logger),
        transcripts: new DirSessionStore(settings.TRANSCRIPTS_DIR ?? defaultTranscriptsDir(), {
          retentionDays: settings.TRANSCRIPT_RETENTION_DAYS,
          ...(settings.TRANSCRIPTS_MAX_BYTES ? { maxBytes: settings.TRANSCRIPTS_MAX_BYTES } : {}),
          logger,
        }),
      })
    } catch (err) {
      return fail((err as Error).message, err)
    }
    const { tokens } = spawner
    undo.push(() => spawner.close())
    // Before anything starts a container: a missing worker image is built (or creates are told why not).
    const workerImage = await ensureWorkerImage({
      runtime,
      images: spawner.service.images,
      emit: stampedEmit(spawner.service.events, () => new Date()),
      logger,
      image: settings.WORKER_IMAGE,
      env,
      local: docker !== undefined,
    })
    undo.push(() => workerImage.stop())
    // Isolated workers mount the socket's directory: the engine cannot reach into them (their
    // state file included) while it is missing, so it exists before anything is recovered.
    await workerSocket?.dirFor()
    await spawner.start()
    let redis: RedisAdapter | undefined
    if (redisSettings) {
      const redisUrl = redisSettings.REDIS_URL
      try {
        redis = await startRedisAdapter({
          settings: redisSettings,
          service: spawner.service,
          instance: settings.SPAWNER_INSTANCE,
          logger,
        })
      } catch (err) {
        fail(`cannot use Redis at ${redactUrl(redisUrl)}: ${(err as Error).message}`, err)
      }
      const adapter = redis!
      undo.push(() => adapter.close())
    }
    const adapter = redis
    const metrics = createMetrics({
      service: spawner.service,
      pools: spawner.pools,
      redis: adapter,
      instance: settings.SPAWNER_INSTANCE,
    })
    undo.push(() => metrics.close())
    // Metrics and Swagger UI's files: the operator API serves them (the worker API never does).
    const extras: AppExtras = {
      metrics,
      docsAssets: swaggerAssets(),
      ...(adapter
        ? {
            events: adapter.feed,
            remote: adapter.remote,
            ready: { docker: () => runtime.ping(), redis: () => adapter.redis.ping() },
          }
        : {}),
    }
    // Isolated workers have no network: the worker API on a socket is their only way here.
    const socketPath = await workerSocket
      ?.listen(spawner.workerApi(extras).fetch, {
        identify: (credential) => spawner.service.models.egressOf(credential),
        onAllowed: (e) => spawner.service.models.egress(e),
        onDenied: (e) => spawner.service.models.egress(e),
        hosts: settings.EGRESS_HOSTS,
        privateAllow: settings.EGRESS_PRIVATE_ALLOW,
      })
      .catch((err: Error) =>
        fail(`cannot serve isolated workers: ${err.message} (WORKER_SOCKET_DIR)`, err),
      )
    if (workerSocket) undo.push(() => workerSocket.close())
    if (socketPath) logger.info('listening for isolated workers', { socket: socketPath })

    // Open workers call back (orchestrator CLI) through the Docker bridge. With a loopback HOST, a
    // second listener on the bridge serves them, and it never takes an unauthenticated call.
    // Only with Docker in this process: workers on host agents reach it through ORCHESTRATOR_URL.
    let workerServer: ReturnType<typeof serve> | undefined
    if (!settings.ORCHESTRATOR_URL && !docker) {
      logger.warn(
        'no ORCHESTRATOR_URL: workers on host agents cannot reach this service; set it to a URL they can reach',
      )
    }
    if (!settings.ORCHESTRATOR_URL && docker && isLoopback(settings.HOST)) {
      const gateway = await bridgeGateway(docker)
      if (gateway) {
        try {
          const bound = await listen(
            spawner.workerApi(extras).fetch,
            settings.WORKER_PORT ?? 0,
            gateway,
          )
          workerServer = bound.server
          undo.push(() => closeServer(bound.server))
          tokens.url = `http://host.docker.internal:${bound.address.port}`
          logger.info('listening for workers', {
            address: `${gateway}:${bound.address.port}`,
            url: tokens.url,
          })
        } catch (err) {
          logger.warn('no listener for workers; the orchestrator CLI will not reach this service', {
            error: (err as Error).message,
          })
        }
      } else {
        logger.warn(
          'no Docker bridge found; set ORCHESTRATOR_URL so workers can reach this service',
        )
      }
    }

    // One WebSocket server for every route of the operator API that upgrades (terminals).
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES })
    const app = spawner.api({ ...extras, upgradeWebSocket, ui: await loadUiAssets() })
    let bound
    try {
      bound = await listen(app.fetch, settings.PORT, settings.HOST, wss)
    } catch (err) {
      return fail(
        `cannot listen on ${settings.HOST}:${settings.PORT}: ${(err as Error).message}`,
        err,
      )
    }
    const { server, address } = bound
    const shown = address.address.includes(':') ? `[${address.address}]` : address.address
    const url = `http://${shown}:${address.port}`
    if (!tokens.url) tokens.url = `http://host.docker.internal:${address.port}`
    logger.info('listening', {
      url,
      docs: `http://${settings.HOST}:${address.port}/docs`,
      dashboard: `http://${settings.HOST}:${address.port}/ui`,
      ...(docker ? { docker: target } : { hostAgents: target }),
      image: settings.WORKER_IMAGE,
      redis: adapter ? redactUrl(settings.REDIS_URL ?? '') : 'off',
      instance: settings.SPAWNER_INSTANCE,
      version,
    })

    let closed: Promise<void> | undefined
    return {
      settings,
      spawner,
      redis: adapter,
      url,
      logger,
      workerImage,
      reloadPlugins: () => host.reload().then(() => undefined),
      close() {
        closed ??= (async () => {
          workerImage.stop()
          host.close()
          void spawner.close()
          // Redis first: requests in flight finish and are answered before the listeners go.
          await (adapter?.close() ?? Promise.resolve()).catch((err) =>
            logger.error('redis shutdown failed', { error: String(err) }),
          )
          await closeServer(workerServer)
          await workerSocket?.close()
          // Terminals first (their shells killed, an exit frame sent), then any other socket.
          await spawner.terminals.close()
          await closeWebSockets(wss)
          await closeServer(server)
          await spawner.close()
          // The containers stay, their daemons dial the next instance's listeners.
          await daemons?.close()
          metrics.close()
        })()
        return closed
      },
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
