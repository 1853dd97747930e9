import Dockerode from 'dockerode'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { WorkerService } from '../../src/core/service.ts'
import { PluginRegistry } from '../../src/core/plugin/registry.ts'
import type { Plugin } from '../../src/core/plugin/contract.ts'
import { createApp } from '../../src/http/app.ts'
import { DockerRuntime, type DockerRuntimeOptions } from '../../src/docker/docker-runtime.ts'
import { WorkerApiRelays } from '../../src/host-agent/worker-api-relay.ts'
import { WorkerDaemons } from '../../src/docker/daemon/worker-daemons.ts'
import { readSettings } from '../../src/settings.ts'
import type { ContainerRuntime } from '../../src/core/runtime.ts'
import { startLocalAgent } from './host-agent.ts'
import { loadPlugins } from '../../src/node/plugin-loader.ts'
import { WORKER_IMAGE } from '../setup/docker.global.ts'
import { noopLogger, type Logger } from '../../src/core/logger.ts'
import { createJsonLogger } from '../../src/node/logger.ts'

export const PLUGINS_DIR = fileURLToPath(new URL('../../plugins', import.meta.url))

/** The project's plugins plus extra ones made by a test. */
export const registryWith = async (...extra: Plugin[]): Promise<PluginRegistry> => {
  const base = await loadPlugins(PLUGINS_DIR)
  if (base.errors.length > 0)
    throw new Error(`plugins failed to load: ${JSON.stringify(base.errors)}`)
  return PluginRegistry.fromModules(
    [...base.ordered, ...extra].map((p) => ({ name: p.name, module: { default: p } })),
  )
}

/** The runtime a test drives, and how to let go of it. */
export interface TestRuntime {
  runtime: ContainerRuntime
  close(): Promise<void>
}

/**
 * The runtime under test, from `TEST_RUNTIME`: `docker` (default) is the in-process
 * DockerRuntime; `remote` serves that runtime from a host agent on a random loopback port
 * (with its worker API relays in a temporary directory) and returns a RemoteRuntime over it,
 * so one suite covers both.
 */
export const startTestRuntime = async (
  docker = new Dockerode(),
  logger: Logger = noopLogger,
  opts: Omit<DockerRuntimeOptions, 'docker' | 'logger'> = {},
): Promise<TestRuntime> => {
  const kind = process.env.TEST_RUNTIME ?? 'docker'
  if (kind !== 'docker' && kind !== 'remote') {
    throw new Error(`TEST_RUNTIME must be docker or remote, not '${kind}'`)
  }
  const daemons = opts.daemons ? undefined : await testDaemons(logger)
  const withDaemons = { ...(daemons ? { daemons: daemons.daemons } : {}), ...opts }
  if (kind === 'docker') {
    return {
      runtime: new DockerRuntime({ ...withDaemons, docker, logger }),
      close: async () => daemons?.close(),
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'ws-relays-'))
  const relays = new WorkerApiRelays(dir, logger)
  const agent = await startLocalAgent(
    new DockerRuntime({ ...withDaemons, docker, logger, workerApi: relays }),
    logger,
  )
  return {
    runtime: agent.runtime,
    close: async () => {
      await agent.close()
      await relays.close()
      await daemons?.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * The worker daemons of a test runtime, in a directory of their own, unless WORKER_DAEMON=off
 * (as the service reads it), so a whole suite runs either way.
 */
export const testDaemons = async (
  logger: Logger = noopLogger,
): Promise<{ daemons: WorkerDaemons; close(): Promise<void> } | undefined> => {
  if (readSettings({ WORKER_DAEMON: process.env.WORKER_DAEMON }).WORKER_DAEMON === 'off') {
    return undefined
  }
  const dir = mkdtempSync(join(tmpdir(), 'ws-dmn-'))
  const daemons = await WorkerDaemons.open({ dir, logger })
  return {
    daemons,
    close: async () => {
      await daemons.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface Harness {
  docker: Dockerode
  logger: Logger
  runtime: ContainerRuntime
  service: WorkerService
  app: ReturnType<typeof createApp>
  /** Label put on every worker this harness creates, so cleanup finds them. */
  runLabel: Record<string, string>
  /** Removes every container this run created (and stops the host agent, if any). */
  cleanup(): Promise<void>
  /** Containers of this run, as Docker sees them. */
  containers(): Promise<Dockerode.ContainerInfo[]>
}

/**
 * A real service (real Docker, real plugins) behind the real HTTP app, without a port; with
 * `TEST_RUNTIME=remote` it reaches Docker through a host agent (see `startTestRuntime`).
 */
export const startHarness = async (
  opts: { registry?: PluginRegistry; maxFileBytes?: number; maxBodyBytes?: number } = {},
): Promise<Harness> => {
  const docker = new Dockerode()
  // TEST_LOG=debug shows what the service does while a test runs.
  const logger = process.env.TEST_LOG
    ? createJsonLogger({
        level: process.env.TEST_LOG as 'debug',
        write: (l) => process.stderr.write(l + '\n'),
      })
    : noopLogger
  const { runtime, close } = await startTestRuntime(docker, logger)
  const registry = opts.registry ?? (await registryWith())
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: WORKER_IMAGE,
    hostEnv: process.env,
    logger,
    ...(opts.maxFileBytes ? { maxFileBytes: opts.maxFileBytes } : {}),
  })
  const app = createApp({
    service,
    ...(opts.maxFileBytes ? { maxFileBytes: opts.maxFileBytes } : {}),
    ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  })
  const run = randomBytes(4).toString('hex')
  const runLabel = { 'test-run': run }
  const containers = () =>
    docker.listContainers({ all: true, filters: { label: [`test-run=${run}`] } })
  return {
    docker,
    logger,
    runtime,
    service,
    app,
    runLabel,
    containers,
    async cleanup() {
      for (const c of await containers()) {
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined)
      }
      await close()
    },
  }
}

/** JSON request helpers over `app.request`. */
export const api = (app: Harness['app']) => {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const init: RequestInit = { method, headers: { ...headers } }
    if (body !== undefined) {
      init.body = JSON.stringify(body)
      ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
    }
    const res = await app.request(path, init)
    const text = await res.text()
    let json: any
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, json, text }
  }
  return {
    call,
    get: (path: string) => call('GET', path),
    post: (path: string, body?: unknown) => call('POST', path, body),
    patch: (path: string, body?: unknown) => call('PATCH', path, body),
    del: (path: string) => call('DELETE', path),
  }
}
