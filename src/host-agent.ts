/**
 * Host agent entry (`npm run host-agent`): the Docker runtime of this host behind a small
 * authenticated HTTP API, for cores that run elsewhere (`HOST_AGENT_URL`). Settings come from
 * the environment: HOST_AGENT_PORT (8081), HOST_AGENT_HOST (127.0.0.1), HOST_AGENT_TOKEN,
 * HOST_AGENT_ALLOWED_HOSTS, HOST_AGENT_NAME (the hostname), HOST_AGENT_MAX_BODY_BYTES,
 * HOST_AGENT_WORKER_SOCKET_DIR, HOST_AGENT_WORKER_DAEMON (on), HOST_AGENT_WORKER_DAEMON_DIR,
 * LOG_LEVEL, WORKER_LOG_MAX_SIZE, WORKER_LOG_MAX_FILES. Web pages on other sites are refused
 * (Origin, Sec-Fetch-Site, JSON content type; without a token also foreign Host names). Isolated containers (no network) reach their core through a socket this
 * agent serves and relays, for calls with a worker token only, to the core's ORCHESTRATOR_URL
 * (see host-agent/worker-api-relay.ts).
 */
import { serve } from '@hono/node-server'
import { UnavailableError } from './core/errors.ts'
import { createHostAgentApp } from './host-agent/app.ts'
import { dockerCapacity } from './host-agent/docker-capacity.ts'
import { InFlight } from './host-agent/ndjson-response.ts'
import { readHostAgentSettings, refusal } from './host-agent/settings.ts'
import { WorkerApiRelays, defaultRelayDir } from './host-agent/worker-api-relay.ts'
import { createDocker, describeDockerTarget } from './docker/docker-connection.ts'
import { DockerRuntime } from './docker/docker-runtime.ts'
import { WorkerDaemons, defaultAgentDaemonDir } from './docker/daemon/worker-daemons.ts'
import { logRotationOf } from './core/log-rotation.ts'
import { isLoopback } from './node/auth-setup.ts'
import { createJsonLogger } from './node/logger.ts'

const fail = (line: string): never => {
  process.stderr.write(`host-agent: ${line}\n`)
  process.exit(1)
}

const main = async () => {
  let settings
  try {
    settings = readHostAgentSettings(process.env)
  } catch (err) {
    return fail((err as Error).message)
  }
  const refused = refusal(settings, isLoopback)
  if (refused) return fail(refused)
  const token = settings.HOST_AGENT_TOKEN
  const logger = createJsonLogger({
    level: settings.LOG_LEVEL,
    secrets: () => (token ? [token] : []),
    base: { agent: settings.HOST_AGENT_NAME },
  })

  const target = describeDockerTarget(process.env)
  const docker = createDocker()
  try {
    // Quiet preflight: when Docker is missing, the one line below is all the operator sees.
    await new DockerRuntime({ docker, target }).ping()
  } catch (err) {
    const reason =
      err instanceof UnavailableError ? err.message : `Docker Engine at ${target}: ${String(err)}`
    return fail(`${reason}; start Docker or point DOCKER_HOST at it`)
  }
  if (!token)
    logger.warn('no HOST_AGENT_TOKEN: anyone on this machine can drive Docker through this agent')

  const relays = new WorkerApiRelays(
    settings.HOST_AGENT_WORKER_SOCKET_DIR ?? defaultRelayDir(settings.HOST_AGENT_NAME),
    logger,
  )
  await relays.restore()
  let daemons: WorkerDaemons | undefined
  if (settings.HOST_AGENT_WORKER_DAEMON === 'on') {
    const dir =
      settings.HOST_AGENT_WORKER_DAEMON_DIR ?? defaultAgentDaemonDir(settings.HOST_AGENT_NAME)
    try {
      daemons = await WorkerDaemons.open({ dir, logger })
    } catch (err) {
      return fail(
        `cannot serve the workers' daemons: ${(err as Error).message} (HOST_AGENT_WORKER_DAEMON_DIR)`,
      )
    }
  }
  const inFlight = new InFlight()
  const app = createHostAgentApp({
    runtime: new DockerRuntime({
      docker,
      target,
      logger,
      logRotation: logRotationOf(settings),
      workerApi: relays,
      ...(daemons ? { daemons } : {}),
    }),
    token,
    allowedHosts: [...settings.HOST_AGENT_ALLOWED_HOSTS, settings.HOST_AGENT_HOST],
    name: settings.HOST_AGENT_NAME,
    capacity: dockerCapacity(docker, target),
    logger,
    maxBodyBytes: settings.HOST_AGENT_MAX_BODY_BYTES,
    stream: { inFlight },
  })
  const { HOST_AGENT_HOST: hostname, HOST_AGENT_PORT: port } = settings
  const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
    const host = info.address.includes(':') ? `[${info.address}]` : info.address
    logger.info('listening', {
      url: `http://${host}:${info.port}`,
      name: settings.HOST_AGENT_NAME,
      docker: target,
      auth: token ? 'token' : 'none',
    })
  })
  server.on('error', (err) => fail(`cannot listen on ${hostname}:${port}: ${err.message}`))

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    logger.info('shutting down', { signal })
    // Open streams (execs, log follows) are cut, which kills their commands as a disconnect
    // does; the process waits for those kills (up to 10 s) so none is left half done.
    server.close()
    ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
    void relays.close()
    void daemons?.close()
    setTimeout(() => process.exit(0), 10_000).unref()
    void inFlight.settled().then(() => process.exit(0))
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

await main()
