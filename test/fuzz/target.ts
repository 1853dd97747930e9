import fc from 'fast-check'
import { fileURLToPath } from 'node:url'
import type { Hono } from 'hono'
import { catalog } from '../../src/core/catalog.ts'
import { TokenSigner } from '../../src/core/auth/jwt.ts'
import type { Logger } from '../../src/core/logger.ts'
import type { PluginRegistry } from '../../src/core/plugin/registry.ts'
import { WorkerService } from '../../src/core/service.ts'
import { createApp } from '../../src/http/app.ts'
import type { AppEnv } from '../../src/http/auth.ts'
import { loadPlugins } from '../../src/node/plugin-loader.ts'
import { MemoryRuntime } from '../support/memory-runtime.ts'
import { trickyPath } from './mutations.ts'
import type { Hints } from './schema-arbitrary.ts'

/** A worker the fuzzer means, by index among the workers alive when the case runs. */
export class WorkerRef {
  constructor(readonly index: number) {}
}

/** An object literal (fast-check also makes ones without a prototype). */
export const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))

/** `value` with every WorkerRef replaced by the id of a live worker. */
export const resolveRefs = (value: unknown, ids: readonly string[]): unknown => {
  if (value instanceof WorkerRef) return ids[value.index % ids.length]
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, ids))
  if (isPlain(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: resolveRefs(v, ids),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }
  return value
}

/** What a fuzz run drives: one service behind several HTTP apps, and how to reach its workers. */
export interface FuzzTarget {
  service: WorkerService
  /** The same service behind: no auth (loopback operator), API token + worker tokens, the worker surface. */
  apps: Hono<AppEnv>[]
  /** What an operator sends to each app: no header where unauthenticated callers are operators. */
  operatorAuth: (string | undefined)[]
  /** Apps whose usual caller is a worker with its token (the worker surface). */
  workerApps: number[]
  /** Secret of the worker-token signer, for hand-made tokens with odd claims. */
  tokenSecret: string
  /** Property-name hints for the schema arbitraries. */
  hints: Hints
  /** Ids of live workers; creates some first when fewer than two are left. */
  workers(): Promise<string[]>
  /** Makes a generated input safe to run here (Docker: the run label, short timeouts). */
  constrain(command: string, input: unknown): unknown
}

/** Longest a fuzzed `watch` may run: one answered once lasts its durationMs (default 60 s). */
const FUZZ_WATCH_MS = 50

/** A `watch` input cut to FUZZ_WATCH_MS, so the fuzzer's wait for its answer stays short. */
export const shortWatch = (command: string, input: unknown): unknown => {
  if (command !== 'watch' || typeof input !== 'object' || input === null || Array.isArray(input))
    return input
  // The schema coerces: `"30000"` would be a long watch too. What is no number stays, refused.
  const given = (input as { durationMs?: unknown }).durationMs
  const long = given === undefined || !(Number(given) < FUZZ_WATCH_MS)
  return long && (given === undefined || Number.isFinite(Number(given)))
    ? { ...input, durationMs: FUZZ_WATCH_MS }
    : input
}

export const PLUGINS_DIR = fileURLToPath(new URL('../../plugins', import.meta.url))
export const TOKEN_SECRET = 'fuzz-token-secret-0123456789abcdef'
export const API_TOKEN = 'fuzz-operator-token-0123456789'

const TOOLS = [...new Set(catalog.map((c) => c.permission))]

/** Hints that make generated inputs name real plugins, workers, paths and tools. */
export const baseHints = (registry: PluginRegistry): Hints => {
  const names = registry.ordered.map((p) => p.name)
  const agents = registry.ordered.filter((p) => p.kind === 'agent').map((p) => p.name)
  return {
    workerId: fc.nat(7).map((i) => new WorkerRef(i)),
    agent: fc.constantFrom('shell', ...agents),
    capabilities: fc.subarray(
      names.filter((n) => !agents.includes(n)),
      { maxLength: 3 },
    ),
    path: trickyPath,
    workdir: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('/workspace', '/tmp/w') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/',
          '/workspace/..',
          'rel',
          '/etc/passwd',
          '/dev/null/x',
          '/sys/w',
          '/proc/w',
          '/root/w',
        ),
      },
      { weight: 1, arbitrary: trickyPath },
    ),
    allowedTools: fc.subarray(TOOLS),
    shell: fc.constantFrom('echo hi', 'true', 'exit 3', 'printf "\\0\\377"'),
    prompt: fc.constantFrom('echo hi', 'true'),
    argv: fc.constantFrom(['true'], ['echo', 'a b'], ['/nonexistent']),
    mode: fc.constantFrom('0644', '0755', 420, '7777', '0888', 0o10000, -1),
    encoding: fc.constantFrom('utf8', 'base64', 'base64', 'utf8', 'hex', 'UTF8'),
    files: fc.dictionary(
      fc.oneof(trickyPath, fc.constantFrom('AGENTS.md', 'dir/TASK.md')),
      fc.string(),
      { maxKeys: 2 },
    ),
    labels: fc.dictionary(
      fc.constantFrom('team', 'app.kind', 'x/y', 'team', 'workers-spawner.id', '-bad'),
      fc.string(),
      { maxKeys: 2 },
    ),
    spawnablePlugins: fc.subarray(names, { maxLength: 2 }),
  }
}

/** The operator's Authorization header for each of `fuzzApps` (the worker surface has none). */
export const OPERATOR_AUTH = [undefined, `Bearer ${API_TOKEN}`, `Bearer ${API_TOKEN}`]

/** The three ways the HTTP API is served, over one service. */
export const fuzzApps = (
  service: WorkerService,
  signer: TokenSigner,
  logger?: Logger,
): Hono<AppEnv>[] => [
  createApp({
    service,
    auth: { signer },
    allowedHosts: ['spawner.lan'],
    ...(logger ? { logger } : {}),
  }),
  createApp({
    service,
    auth: { apiToken: API_TOKEN, signer },
    maxBodyBytes: 1024 * 1024,
    maxFileBytes: 2 * 1024 * 1024,
    ...(logger ? { logger } : {}),
  }),
  createApp({
    service,
    auth: { required: true, signer },
    surface: 'worker',
    ...(logger ? { logger } : {}),
  }),
]

/** Creates shell workers until at least two are alive; returns the live ids. */
export const keepWorkers = async (service: WorkerService, labels: Record<string, string> = {}) => {
  const live = () =>
    service
      .records()
      .filter((r) => !r.pool && r.state !== 'deleted')
      .map((r) => r.workerId)
  while (live().length < 2) {
    await service.create({
      config: service.parseConfig({
        agent: 'shell',
        labels,
        allowedTools: TOOLS.slice(0, 1 + live().length * 4),
      }),
    })
  }
  return live()
}

/** The service over the in-memory runtime, with the project's real plugins. */
export const memoryTarget = async (
  logger?: Logger,
): Promise<FuzzTarget & { runtime: MemoryRuntime }> => {
  const runtime = new MemoryRuntime()
  const registry = await loadPlugins(PLUGINS_DIR)
  const signer = new TokenSigner(TOKEN_SECRET)
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'fuzz-base',
    hostEnv: {},
    maxFileBytes: 2 * 1024 * 1024,
    tokens: { signer, url: 'http://host.docker.internal:1' },
    ...(logger ? { logger } : {}),
  })
  return {
    runtime,
    service,
    apps: fuzzApps(service, signer, logger),
    operatorAuth: OPERATOR_AUTH,
    workerApps: [2],
    tokenSecret: TOKEN_SECRET,
    hints: baseHints(registry),
    workers: () => keepWorkers(service),
    constrain: shortWatch,
  }
}
