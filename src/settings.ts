import { z } from 'zod'
import { describeIssues } from './core/validation.ts'
import { logRotationSettings } from './core/log-rotation.ts'
import type { Network } from './core/config.ts'
import { egressPatternSchema, isIp, parseCidrs } from './core/egress.ts'
import { modelPricesSetting } from './gateway/prices.ts'
import { permissionRuleSchema } from './core/permission-policy.ts'

const int = (def: number) => z.coerce.number().int().positive().default(def)

/** A DNS name or IPv4 address, or an IPv6 address in brackets. */
const HOST_NAME = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])$/
/** An npm package name: `name` or `@scope/name`, lower case, nothing that walks out of node_modules. */
export const NPM_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/
const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )

/**
 * The service's settings, read from the environment by every entry (`src/node.ts`, and
 * `src/worker.ts` from its vars and secrets), so the two cannot drift apart. Runtime-agnostic:
 * the entries fill in what only they know (the host name, the plugin folder).
 */
export const settingsSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  PLUGINS_DIR: z.string().min(1).optional(),
  WATCH_PLUGINS: z.enum(['0', '1']).default('1'),
  /**
   * npm packages loaded as plugins besides the `workers-spawner-plugin-*` ones, comma-separated
   * (installed in PLUGIN_NODE_MODULES).
   */
  PLUGIN_PACKAGES: list.refine(
    (names) => names.every((n) => NPM_NAME.test(n)),
    'npm package names (name or @scope/name), comma-separated',
  ),
  /** The node_modules folder plugin packages are installed in (Node entry; default: the service's own). */
  PLUGIN_NODE_MODULES: z.string().min(1).optional(),
  WORKER_IMAGE: z.string().min(1).default('workers-spawner/universal-worker:latest'),
  MAX_FILE_BYTES: int(16 * 1024 * 1024),
  MAX_BODY_BYTES: int(4 * 1024 * 1024),
  /** Event streams (SSE) open at once per listener; one more is answered 503 too_many_streams. */
  MAX_SSE_STREAMS: int(100),
  /** Bytes an SSE client may leave unread before it is dropped (a send_command stream then aborts). */
  MAX_SSE_QUEUED_BYTES: int(4 * 1024 * 1024),
  /** A terminal with no input and no output this long (seconds) is closed. */
  TERMINAL_IDLE_SECONDS: int(900),
  /** Terminals open at once into one worker. */
  TERMINAL_MAX_PER_WORKER: int(8),
  /** Terminals open at once on this instance. */
  TERMINAL_MAX: int(64),
  /** How long a worker's server may take to send response headers to a preview request. */
  PREVIEW_TIMEOUT_MS: int(30_000),
  /** Preview connections (one exec each) open at once; one more is answered 429 too_many_previews. */
  PREVIEW_MAX_CONNECTIONS: int(64),
  /** Longest life of a preview link (POST /v1/workers/:id/preview-links), seconds. */
  PREVIEW_LINK_MAX_SECONDS: int(86_400),
  ...logRotationSettings,
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  SPAWNER_INSTANCE: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - only')
    .optional(),
  /** How often TTL and idle deadlines are checked. */
  LIFECYCLE_TICK_MS: int(1000),
  /** Warm pools, e.g. `shell=2 claude-code+git=1`. */
  WARM_POOLS: z.string().default(''),
  /**
   * Host names (comma-separated, any port) requests may carry besides loopback names and HOST,
   * e.g. a name in /etc/hosts; checked while calls without a token are an operator's.
   */
  ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    )
    .refine(
      (hosts) => hosts.every((h) => HOST_NAME.test(h)),
      'host names only (no scheme or port; IPv6 in brackets), comma-separated',
    ),
  /** Bearer token for every /v1 route; required to listen on a non-loopback address. */
  SPAWNER_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Key for worker tokens and for the state the service keeps inside workers. Default (Node
   * entry): a random key kept in ~/.workers-spawner/token-secret. Instances that share
   * workers (one Redis, several hosts) must share it.
   */
  SPAWNER_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * How open workers (and, in the split shape, the host agents' worker API relays) reach this
   * service; default: a listener on the Docker bridge, via host.docker.internal.
   */
  ORCHESTRATOR_URL: z.string().url().optional(),
  /**
   * Directory of the worker API socket that isolated workers reach the service through
   * (bind-mounted read-only into each; must hold nothing else). Default:
   * ~/.workers-spawner/run/<SPAWNER_INSTANCE>. In-process Docker only.
   */
  WORKER_SOCKET_DIR: z.string().min(1).optional(),
  /**
   * `on`: commands, files, terminals and watches go through the daemon inside each worker
   * when it answers, `docker exec` and the archive API otherwise; `off`: always the latter.
   * In-process Docker only (a host agent has its own setting).
   */
  WORKER_DAEMON: z.enum(['on', 'off']).default('on'),
  /**
   * Directory of the workers' daemon sockets (one subdirectory each, mounted read-only into
   * its worker) and their key; must be this user's, closed to others. Default:
   * ~/.workers-spawner/daemons.
   */
  WORKER_DAEMON_DIR: z.string().min(1).optional(),
  /** Port of the listener open workers reach when HOST is loopback (0 = any). */
  WORKER_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /**
   * Directory of the kept transcripts and saved agent sessions (Node entry; default
   * ~/.workers-spawner/transcripts). Holds what agents wrote: keep it private to the service.
   */
  TRANSCRIPTS_DIR: z.string().min(1).optional(),
  /** Days a worker's transcript and saved sessions are kept after their last write. */
  TRANSCRIPT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /**
   * Bytes TRANSCRIPTS_DIR holds at most (default 10 GiB): past it the least recently written
   * transcripts are removed, so agents' output and session files cannot fill the host's disk.
   */
  TRANSCRIPTS_MAX_BYTES: z.coerce.number().int().positive().optional(),
  /** How often a worker's last activity is written into it (restart-safe idle deadline). */
  PERSIST_ACTIVITY_MS: int(30_000),
  /**
   * Host agents to run containers on instead of the local Docker Engine: one URL, or several
   * as comma-separated `name=url` pairs (see src/remote/runtime-from-config.ts).
   */
  HOST_AGENT_URL: z.string().min(1).optional(),
  /** The host agents' bearer token (their HOST_AGENT_TOKEN). */
  HOST_AGENT_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Longest lifetime a worker may have, at create and after `update` (seconds). */
  MAX_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(30 * 86_400),
  /** Workers this instance runs at once (0 = no limit); warm-pool containers do not count. */
  MAX_WORKERS: z.coerce.number().int().min(0).default(500),
  /**
   * `ask`: no worker may skip permissions; a WorkerConfig without `permissions` asks before
   * every tool call, and `'skip'` is refused. Default `skip` (a config says).
   */
  PERMISSIONS_MIN: z.enum(['skip', 'ask']).default('skip'),
  /**
   * Tool calls always denied, whatever a worker's policy says: a JSON array of rules, e.g.
   * `[{"tool":"Bash","path":"rm *"},{"tool":"WebFetch"}]` (workers that ask only).
   */
  PERMISSIONS_DENY: z
    .string()
    .default('[]')
    .transform((s, ctx) => {
      try {
        return z.array(permissionRuleSchema).max(256).parse(JSON.parse(s))
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'a JSON array of rules { "tool": "...", "path"?: "..." }',
        })
        return z.NEVER
      }
    }),
  /** How long a permission request waits for an answer when the worker says nothing (ms). */
  PERMISSION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(5 * 60_000),
  /** The longest a worker's permission requests may wait (ms). */
  PERMISSION_MAX_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(60 * 60_000),
  /** Workers in one tree: a worker made by an operator plus every sub-worker below it. */
  MAX_TREE_WORKERS: z.coerce.number().int().min(1).default(16),
  /** Commands and file operations one worker may run at once (each may hold 32 MiB of output). */
  MAX_WORKER_COMMANDS: z.coerce.number().int().min(1).default(8),
  /** Commands and file operations all workers of this instance may run at once. */
  MAX_COMMANDS: z.coerce.number().int().min(1).default(64),
  /**
   * Host paths plugins may bind-mount into workers: comma-separated prefixes, read-only
   * unless suffixed `:rw`. Default: none.
   */
  ALLOWED_MOUNTS: list,
  /** Linux capabilities plugins may add back to workers (all are dropped). Default: none. */
  ALLOWED_CAPS: list,
  /** OCI runtimes plugins may ask for (the `docker` capability asks for sysbox-runc). */
  ALLOWED_RUNTIMES: z
    .string()
    .default('sysbox-runc')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  /**
   * The network of a WorkerConfig that names none: `none`, `all`, or host patterns for the
   * egress proxy, comma-separated (e.g. `registry.npmjs.org,*.github.com:443`). Default: the
   * proxy with an empty allow list (every connection out denied, with a message saying why).
   */
  EGRESS_DEFAULT: z
    .string()
    .default('')
    .transform((s, ctx): Network => {
      const v = s.trim()
      if (v === 'none' || v === 'all') return v
      const allow = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
      const bad = allow.find((p) => !egressPatternSchema.safeParse(p).success)
      if (bad) ctx.addIssue({ code: 'custom', message: `'${bad}' is not a host pattern` })
      return { allow }
    }),
  /** Host patterns a WorkerConfig's `network.allow` may use, comma-separated (`*`: any). */
  EGRESS_PERMIT: z
    .string()
    .default('*')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .refine((l) => l.every((p) => egressPatternSchema.safeParse(p).success), 'host patterns'),
  /**
   * Names the egress proxy resolves itself, before DNS: `name=ip`, comma-separated (e.g. a
   * package mirror with no public DNS name). The proxy connects to the address given.
   */
  EGRESS_HOSTS: z
    .string()
    .default('')
    .transform((s, ctx) => {
      const hosts: Record<string, string> = {}
      for (const entry of s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        const [name, ip, ...rest] = entry.split('=').map((x) => x.trim())
        if (!name || !ip || rest.length > 0 || !isIp(ip)) {
          ctx.addIssue({ code: 'custom', message: `'${entry}' is not name=ip` })
          continue
        }
        hosts[name.toLowerCase()] = ip
      }
      return hosts
    }),
  /**
   * Private addresses (CIDRs or single IPs, comma-separated) the egress proxy may still connect
   * to. Default none: loopback, private networks and link-local (cloud metadata) are refused
   * whatever a name resolves to. Keep it narrow, and pair it with ported allow entries.
   */
  EGRESS_PRIVATE_ALLOW: z
    .string()
    .default('')
    .transform((s, ctx) => {
      try {
        return parseCidrs(s)
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message })
        return []
      }
    }),
  /** Whether a WorkerConfig may ask for `network: 'all'` (Docker's bridge, no proxy). */
  NETWORK_ALL: z.enum(['0', '1']).default('1'),
  /** The operator's prices (USD per million tokens) over the defaults, as JSON by model prefix. */
  MODEL_PRICES: modelPricesSetting,
  /** Redis to serve the stream protocol on (its other settings: src/redis/settings.ts). */
  REDIS_URL: z.string().min(1).optional(),
})
export type Settings = z.infer<typeof settingsSchema>

/**
 * The one way every entry reads its environment: an empty variable counts as unset
 * (`FOO= npm start`), and the error names each bad variable.
 */
export const parseEnv = <S extends z.ZodType>(
  schema: S,
  env: Readonly<Record<string, unknown>>,
): z.output<S> => {
  const set = Object.fromEntries(
    Object.entries(env).filter(([, v]) => typeof v === 'string' && v !== ''),
  )
  const parsed = schema.safeParse(set)
  if (parsed.success) return parsed.data
  const issues = describeIssues(parsed.error)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ')
  throw new Error(`invalid environment: ${issues}`)
}

/** Parses the service's settings from an environment (see `parseEnv`). */
export const readSettings = (env: Readonly<Record<string, unknown>>): Settings =>
  parseEnv(settingsSchema, env)
