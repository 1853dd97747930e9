/**
 * The composition root: builds the running service from settings and the parts only an entry
 * can make (a container runtime, the plugin source, a logger). `src/node.ts`, `src/worker.ts`,
 * the tests and the benchmarks all build it here, so they run the same service. Runtime-agnostic:
 * nothing here imports node:*, dockerode or ioredis.
 */
import { TokenSigner } from './core/auth/jwt.ts'
import { Lifecycle } from './core/lifecycle.ts'
import type { Logger } from './core/logger.ts'
import { noopLogger } from './core/logger.ts'
import type { PluginRegistry } from './core/plugin/registry.ts'
import { parseMountRules, type WorkerPolicy } from './core/policy.ts'
import { WarmPools, parsePoolSpecs } from './core/pool.ts'
import { recoverWorkers, type RecoveryReport } from './core/recovery.ts'
import type { ContainerRuntime } from './core/runtime.ts'
import { WorkerService } from './core/service.ts'
import { createApp, type AppOptions } from './http/app.ts'
import type { Settings } from './settings.ts'
import { MemorySessionStore } from './core/transcripts-memory.ts'
import type { SessionStore } from './core/transcripts.ts'

export interface SpawnerParts {
  settings: Settings
  runtime: ContainerRuntime
  /** The current plugin registry (read at every create, so a reload takes effect at once). */
  plugins: () => PluginRegistry
  /** Where declared secrets and plugins' host paths are read from. */
  hostEnv: Readonly<Record<string, string | undefined>>
  /**
   * Signs worker tokens and the state kept inside workers: `SPAWNER_TOKEN_SECRET`, or a key the
   * entry keeps. Never derived from the API token.
   */
  secret: string
  logger?: Logger
  version?: string
  /** The model gateway's client to the upstreams (default: the built-in fetch). */
  fetch?: typeof fetch
  /** Reads a file on this host for plugins' `hostFiles` (the Node entry has one). */
  readHostFile?: (path: string, maxBytes: number) => Promise<Uint8Array>
  /** Where transcripts and saved sessions are kept (default: in memory, for this process's life). */
  transcripts?: SessionStore
}

/** What the HTTP apps take besides the service: Redis-backed events, forwarding, readiness. */
export type AppExtras = Pick<AppOptions, 'events' | 'remote' | 'ready' | 'ui'>

export interface Spawner {
  service: WorkerService
  lifecycle: Lifecycle
  pools: WarmPools | undefined
  /** Worker tokens are signed with this; `url` is where workers reach the service. */
  tokens: { signer: TokenSigner; url: string }
  /** The operator API: every route, API token (when set) or worker tokens. */
  api(extras?: AppExtras): ReturnType<typeof createApp>
  /** What workers reach: the /v1 routes and /healthz, worker tokens only, never anonymous. */
  workerApi(extras?: AppExtras): ReturnType<typeof createApp>
  /** Knows the workers of this instance again, then starts deadlines and warm pools. */
  start(opts?: { timers?: boolean }): Promise<RecoveryReport>
  close(): Promise<void>
}

/** How often transcripts past TRANSCRIPT_RETENTION_DAYS are removed. */
const PRUNE_EVERY_MS = 3_600_000

/** The operator's limits and allowances, from settings. */
export const policyFrom = (s: Settings): WorkerPolicy => ({
  maxTtlSeconds: s.MAX_TTL_SECONDS,
  maxWorkers: s.MAX_WORKERS,
  maxTreeWorkers: s.MAX_TREE_WORKERS,
  maxWorkerCommands: s.MAX_WORKER_COMMANDS,
  maxCommands: s.MAX_COMMANDS,
  mounts: parseMountRules(s.ALLOWED_MOUNTS),
  caps: s.ALLOWED_CAPS,
  runtimes: s.ALLOWED_RUNTIMES,
  network: {
    default: s.EGRESS_DEFAULT,
    permit: s.EGRESS_PERMIT,
    allowAll: s.NETWORK_ALL === '1',
  },
  permissions: {
    min: s.PERMISSIONS_MIN,
    deny: s.PERMISSIONS_DENY,
    defaultTimeoutMs: Math.min(s.PERMISSION_TIMEOUT_MS, s.PERMISSION_MAX_TIMEOUT_MS),
    maxTimeoutMs: s.PERMISSION_MAX_TIMEOUT_MS,
  },
})

/**
 * Builds the service. Throws (naming the setting) when a setting cannot work.
 * @example
 * const spawner = createSpawner({ settings, runtime, plugins: () => registry, hostEnv, secret })
 * await spawner.start()
 * serve({ fetch: spawner.api().fetch })
 */
export const createSpawner = (parts: SpawnerParts): Spawner => {
  const { settings } = parts
  const logger = parts.logger ?? noopLogger
  const poolSpecs = parsePoolSpecs(settings.WARM_POOLS)
  const tokens = { signer: new TokenSigner(parts.secret), url: settings.ORCHESTRATOR_URL ?? '' }
  const transcripts =
    parts.transcripts ??
    new MemorySessionStore({ retentionDays: settings.TRANSCRIPT_RETENTION_DAYS })
  const service = new WorkerService({
    runtime: parts.runtime,
    tokens,
    secret: parts.secret,
    policy: policyFrom(settings),
    plugins: parts.plugins,
    baseImage: settings.WORKER_IMAGE,
    hostEnv: parts.hostEnv,
    logger,
    maxFileBytes: settings.MAX_FILE_BYTES,
    persistActivityMs: settings.PERSIST_ACTIVITY_MS,
    ...(settings.SPAWNER_INSTANCE ? { instance: settings.SPAWNER_INSTANCE } : {}),
    ...(parts.readHostFile ? { readHostFile: parts.readHostFile } : {}),
    transcripts,
  })
  const gateway = {
    prices: settings.MODEL_PRICES,
    ...(parts.fetch ? { fetch: parts.fetch } : {}),
  }
  const lifecycle = new Lifecycle(service, { tickMs: settings.LIFECYCLE_TICK_MS, logger })
  const pools = poolSpecs.length > 0 ? new WarmPools(service, poolSpecs, { logger }) : undefined
  const common = {
    service,
    logger,
    ...(parts.version ? { version: parts.version } : {}),
    maxBodyBytes: settings.MAX_BODY_BYTES,
    maxFileBytes: settings.MAX_FILE_BYTES,
    maxSseStreams: settings.MAX_SSE_STREAMS,
    maxSseQueuedBytes: settings.MAX_SSE_QUEUED_BYTES,
    allowedHosts: [...settings.ALLOWED_HOSTS, settings.HOST],
  }
  const auth = {
    ...(settings.SPAWNER_API_TOKEN ? { apiToken: settings.SPAWNER_API_TOKEN } : {}),
    signer: tokens.signer,
  }
  let closed: Promise<void> | undefined
  let pruning: ReturnType<typeof setInterval> | undefined
  const prune = () =>
    transcripts
      .prune(new Date())
      .catch((err: unknown) => logger.warn('transcripts not pruned', { error: String(err) }))
  return {
    service,
    lifecycle,
    pools,
    tokens,
    // With ORCHESTRATOR_URL set, workers reach this listener (host agents relay them here), so
    // it serves their model calls too; otherwise only the workers' own listeners do.
    api: (extras = {}) =>
      createApp({
        ...common,
        ...extras,
        auth,
        ...(settings.ORCHESTRATOR_URL ? { gateway } : {}),
      }),
    workerApi: (extras = {}) =>
      createApp({
        ...common,
        ...extras,
        auth: { signer: tokens.signer, required: true },
        surface: 'worker',
        gateway,
      }),
    async start({ timers = true } = {}) {
      const report = await recoverWorkers(service, {
        logger,
        ...(settings.SPAWNER_INSTANCE ? { instance: settings.SPAWNER_INSTANCE } : {}),
      })
      // Checkpoints of workers that went while the service was down go too.
      await service.checkpoints
        .sweep()
        .catch((err: unknown) => logger.warn('checkpoints not swept', { error: String(err) }))
      if (timers) lifecycle.start()
      pools?.start()
      // Retention: at start, then hourly.
      await prune()
      if (timers && !pruning) {
        pruning = setInterval(() => void prune(), PRUNE_EVERY_MS)
        ;(pruning as { unref?: () => void }).unref?.()
      }
      return report
    },
    close() {
      closed ??= (async () => {
        pools?.close()
        if (pruning) clearInterval(pruning)
        await lifecycle.stop()
      })()
      return closed
    },
  }
}
