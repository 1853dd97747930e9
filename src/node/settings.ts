import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { describeIssues } from '../core/validation.ts'

const defaultPluginsDir = fileURLToPath(new URL('../../plugins', import.meta.url))

const int = (def: number) => z.coerce.number().int().positive().default(def)

/** The service's settings, read from the environment. */
export const settingsSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  PLUGINS_DIR: z.string().min(1).default(defaultPluginsDir),
  WATCH_PLUGINS: z.enum(['0', '1']).default('1'),
  WORKER_IMAGE: z.string().min(1).default('workers-spawner/universal-worker:latest'),
  MAX_FILE_BYTES: int(16 * 1024 * 1024),
  MAX_BODY_BYTES: int(4 * 1024 * 1024),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  SPAWNER_INSTANCE: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - only').default(hostname()),
  /** How often TTL and idle deadlines are checked. */
  LIFECYCLE_TICK_MS: int(1000),
  /** Warm pools, e.g. `shell=2 claude-code+git=1`. */
  WARM_POOLS: z.string().default(''),
  /** Bearer token for every /v1 route; required to listen on a non-loopback address. */
  SPAWNER_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Key for worker tokens (default: derived from SPAWNER_API_TOKEN, else kept in ~/.workers-spawner). */
  SPAWNER_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How workers reach this service; default: a listener on the Docker bridge, via host.docker.internal. */
  ORCHESTRATOR_URL: z.string().url().optional(),
  /** Port of the listener workers reach when HOST is loopback (0 = any). */
  WORKER_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** How often a worker's last activity is written into it (restart-safe idle deadline). */
  PERSIST_ACTIVITY_MS: int(30_000),
  /**
   * Host agents to run containers on instead of the local Docker Engine: one URL, or several
   * as comma-separated `name=url` pairs (see src/host/runtime-from-config.ts).
   */
  HOST_AGENT_URL: z.string().min(1).optional(),
  /** The host agents' bearer token (their HOST_AGENT_TOKEN). */
  HOST_AGENT_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
})
export type Settings = z.infer<typeof settingsSchema>

/** Parses settings; the error names each bad variable. */
export const readSettings = (env: NodeJS.ProcessEnv): Settings => {
  // An empty variable counts as unset (`FOO= npm start`).
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''))
  const parsed = settingsSchema.safeParse(set)
  if (parsed.success) return parsed.data
  const list = describeIssues(parsed.error).map((i) => `${i.path}: ${i.message}`).join('; ')
  throw new Error(`invalid environment: ${list}`)
}
