import { hostname } from 'node:os'
import { z } from 'zod'
import { parseEnv, settingsSchema } from '../settings.ts'
import { logRotationSettings } from '../core/log-rotation.ts'

/** The host agent's settings, read from the environment. */
export const hostAgentSettingsSchema = z.object({
  HOST_AGENT_PORT: z.coerce.number().int().min(0).max(65_535).default(8081),
  HOST_AGENT_HOST: z.string().min(1).default('127.0.0.1'),
  /** Bearer token of every /v1 route; required unless loopback and HOST_AGENT_INSECURE=1. */
  HOST_AGENT_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  HOST_AGENT_INSECURE: z.enum(['0', '1']).default('0'),
  /**
   * Host names (comma-separated, any port) requests may carry besides loopback names and
   * HOST_AGENT_HOST; checked while there is no token (DNS rebinding). Read as ALLOWED_HOSTS is.
   */
  HOST_AGENT_ALLOWED_HOSTS: settingsSchema.shape.ALLOWED_HOSTS,
  /** How cores name this host (placement label `workers-spawner.host`). */
  HOST_AGENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - only')
    .default(hostname()),
  /** Largest request body: a file, an exec's stdin, a build context (default 256 MiB). */
  HOST_AGENT_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  /**
   * Where the worker API sockets of isolated containers live: one subdirectory per core URL,
   * each bind-mounted into its containers (default ~/.workers-spawner/relays/<HOST_AGENT_NAME>).
   */
  HOST_AGENT_WORKER_SOCKET_DIR: z.string().min(1).optional(),
  /** As WORKER_DAEMON, for this agent's containers. */
  HOST_AGENT_WORKER_DAEMON: settingsSchema.shape.WORKER_DAEMON,
  /**
   * As WORKER_DAEMON_DIR, for this agent's containers (default
   * ~/.workers-spawner/agent-daemons/<HOST_AGENT_NAME>).
   */
  HOST_AGENT_WORKER_DAEMON_DIR: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  ...logRotationSettings,
})
export type HostAgentSettings = z.infer<typeof hostAgentSettingsSchema>

/** Parses the settings (see `parseEnv`): the error names each bad variable; empty ones count as unset. */
export const readHostAgentSettings = (env: NodeJS.ProcessEnv): HostAgentSettings =>
  parseEnv(hostAgentSettingsSchema, env)

/**
 * Why these settings must not start, or undefined. A host agent drives Docker for whoever
 * holds its token, so it needs one; only a loopback agent may go without, and only when
 * asked to with HOST_AGENT_INSECURE=1.
 */
export const refusal = (s: HostAgentSettings, isLoopback: (host: string) => boolean) => {
  if (s.HOST_AGENT_TOKEN) return undefined
  if (isLoopback(s.HOST_AGENT_HOST) && s.HOST_AGENT_INSECURE === '1') return undefined
  return isLoopback(s.HOST_AGENT_HOST)
    ? 'HOST_AGENT_TOKEN is required (16+ characters); ' +
        'for a loopback-only agent without one, set HOST_AGENT_INSECURE=1'
    : `refusing to listen on ${s.HOST_AGENT_HOST} without HOST_AGENT_TOKEN: ` +
        'set a token (16+ characters)'
}
