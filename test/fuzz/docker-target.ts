import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import fc from 'fast-check'
import { TokenSigner } from '../../src/core/auth/jwt.ts'
import { DEFAULT_POLICY } from '../../src/core/policy.ts'
import { WorkerService } from '../../src/core/service.ts'
import { WorkerSocket } from '../../src/node/worker-socket.ts'
import { WORKER_IMAGE } from '../setup/docker.global.ts'
import { registryWith, startTestRuntime } from '../support/harness.ts'
import {
  baseHints,
  fuzzApps,
  isPlain,
  keepWorkers,
  OPERATOR_AUTH,
  shortWatch,
  TOKEN_SECRET,
  type FuzzTarget,
} from './target.ts'

/** Longest a fuzzed command may run in a real container. */
const DOCKER_TIMEOUT_MS = 10_000

/**
 * The service over the real Docker Engine (or the host agent, with TEST_RUNTIME=remote), so
 * the engine's own answers are fuzzed too. Workers run the shell agent only (no image builds)
 * and carry this run's label; `cleanup()` removes them.
 */
export const dockerTarget = async (): Promise<FuzzTarget & { cleanup(): Promise<void> }> => {
  const docker = new Dockerode()
  // Isolated workers (the default) mount a worker API socket directory, as under `npm start`.
  const socketDir = mkdtempSync(join(tmpdir(), 'ws-fuzz-sock-'))
  const { runtime, close } = await startTestRuntime(docker, undefined, {
    workerApi: new WorkerSocket(socketDir),
  })
  const registry = await registryWith()
  const signer = new TokenSigner(TOKEN_SECRET)
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: WORKER_IMAGE,
    hostEnv: {},
    maxFileBytes: 2 * 1024 * 1024,
    tokens: { signer, url: 'http://host.docker.internal:1' },
    // A long run makes many workers: past this, creates are refused (429) instead.
    policy: { ...DEFAULT_POLICY, maxWorkers: 20 },
  })
  const run = randomBytes(4).toString('hex')
  const label = { 'fuzz-run': run }
  const plugins = new Set(registry.ordered.map((p) => p.name))
  const constrain = (command: string, input: unknown): unknown => {
    if (!isPlain(input)) return input
    if (command === 'watch') return shortWatch(command, input)
    if (command === 'create' && isPlain(input.config)) {
      const config: Record<string, unknown> = { ...input.config }
      // Only the shell agent's image exists: any other plugin would build a derived image.
      if (typeof config.agent === 'string' && plugins.has(config.agent)) config.agent = 'shell'
      if (Array.isArray(config.capabilities))
        config.capabilities = config.capabilities.filter((c) => !plugins.has(c as string))
      if (config.labels === undefined || isPlain(config.labels))
        config.labels = { ...(config.labels as object), ...label }
      return { ...input, config }
    }
    if (command === 'build_image') {
      // Only the shell agent's image exists: any other plugin set would be a real build.
      const capabilities = Array.isArray(input.capabilities)
        ? input.capabilities.filter((c) => !plugins.has(c as string))
        : input.capabilities
      return { ...input, agent: 'shell', capabilities }
    }
    if (
      command === 'send_command' &&
      typeof input.timeoutMs === 'number' &&
      input.timeoutMs > DOCKER_TIMEOUT_MS
    ) {
      return { ...input, timeoutMs: DOCKER_TIMEOUT_MS }
    }
    if (command === 'send_command' && input.timeoutMs === undefined)
      return { ...input, timeoutMs: DOCKER_TIMEOUT_MS }
    return input
  }
  return {
    service,
    apps: fuzzApps(service, signer),
    operatorAuth: OPERATOR_AUTH,
    workerApps: [2],
    tokenSecret: TOKEN_SECRET,
    hints: { ...baseHints(registry), agent: fc.constant('shell'), capabilities: fc.constant([]) },
    workers: () => keepWorkers(service, label),
    constrain,
    async cleanup() {
      const mine = await docker.listContainers({
        all: true,
        filters: { label: [`fuzz-run=${run}`] },
      })
      for (const c of mine)
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined)
      // Checkpoints of this run's workers (fuzzed `checkpoint` and `fork` commands).
      const ids = new Set(mine.map((c) => c.Labels['workers-spawner.worker-id']))
      const images = await docker.listImages({ filters: { label: ['workers-spawner.checkpoint'] } })
      for (const i of images.filter((i) => ids.has(i.Labels?.['workers-spawner.checkpoint-of'])))
        await docker
          .getImage(i.Id)
          .remove({ force: true })
          .catch(() => undefined)
      await close()
      rmSync(socketDir, { recursive: true, force: true })
    },
  }
}
