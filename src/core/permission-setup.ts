import type { ContainerNetwork, WorkerConfig } from './config.ts'
import type { CoreContext } from './context.ts'
import { BadRequestError, ForbiddenError } from './errors.ts'
import {
  DEFAULT_PERMISSION_BOUNDS,
  PermissionsRefusal,
  setupFor,
  type PermissionBounds,
  type PermissionsConfig,
} from './permission-policy.ts'
import type { PermissionState } from './permission-schemas.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import { pluginPermissions } from './plugin/hooks.ts'
import { pluginContext } from './spec.ts'
import { utf8Encode } from './bytes.ts'
import { wider } from './sub-workers.ts'
import type { WorkerRecord } from './worker-record.ts'
import { orchestratorUrl } from './worker-tokens.ts'

/** The directories a hook's command searches, none of them the worker's to change. */
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * The PATH of a worker that asks: the image's, with the system directories first. The worker's
 * own (`~/.local/bin`, npm's global bin) come first otherwise, and a program the agent put there
 * (a `node`, `claude`, `orchestrator` that skips the hook) would run at its CLI's next prompt.
 */
export const SYSTEM_FIRST_PATH = `${SAFE_PATH}:/home/worker/.local/bin:/home/worker/.npm-global/bin`

/** A shell word for `value` (single-quoted). */
const quoted = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

/**
 * `orchestrator permit` as a hook runs it: a clean environment (only the fixed PATH, HOME, the
 * service's address and the worker's token, which the service checks) and the CLI by its path.
 */
export const permitCommand = (url: string, format: string): string =>
  [
    'env -i',
    `PATH=${SAFE_PATH}`,
    'HOME=/home/worker',
    `ORCHESTRATOR_URL=${quoted(url)}`,
    'ORCHESTRATOR_TOKEN="$ORCHESTRATOR_TOKEN"',
    '/usr/local/bin/orchestrator permit --format',
    quoted(format),
  ].join(' ')

/** The operator's bounds on permissions (spawner settings), or the defaults. */
export const boundsOf = (ctx: CoreContext): PermissionBounds =>
  ctx.policy.permissions ?? DEFAULT_PERMISSION_BOUNDS

/**
 * The permission state a worker starts with (undefined: it skips permissions): its config's
 * rules within the operator's bounds and its parent's. Refused when the config is wider than
 * allowed, or asks while its agent has no way to ask.
 */
export const initialPermissions = (
  config: { agent: string; permissions?: PermissionsConfig },
  agent: Pick<AgentPlugin, 'name' | 'permissions'>,
  bounds: PermissionBounds,
  parent?: PermissionState,
): PermissionState | undefined => {
  let setup
  try {
    setup = setupFor(config.permissions, bounds, parent)
  } catch (err) {
    if (!(err instanceof PermissionsRefusal)) throw err
    if (err.code === 'not_wider_than_parent')
      throw wider('permissions', err.message.replace(/^permissions: /, ''))
    throw new ForbiddenError(err.message, 'permissions_required', {
      details: [{ path: 'permissions', message: err.message }],
    })
  }
  if (!setup) return undefined
  if (!agent.permissions) {
    const message = `agent '${agent.name}' cannot ask for permissions (its plugin declares no permissions hook); use permissions: 'skip' or another agent`
    throw new BadRequestError(
      `permissions: ${message}`,
      [{ path: 'permissions', message }],
      'permissions_unsupported',
    )
  }
  return { ...setup, pending: [], resolved: [] }
}

/**
 * What a worker that asks before tool calls starts with: its permission state, and its agent's
 * hook files (written as root, read-only to the agent) and env. Undefined when it skips.
 * `hostEnv` is what the worker's plugins see of the spawner's environment (the gateway's URLs
 * and the worker's credential): the hook files are readable by the agent.
 */
export const workerPermissions = (
  ctx: CoreContext,
  config: WorkerConfig,
  agent: AgentPlugin,
  at: { workerId: string; network: ContainerNetwork | undefined },
  parent?: WorkerRecord,
  hostEnv: Readonly<Record<string, string | undefined>> = ctx.opts.hostEnv,
) => {
  const state = initialPermissions(config, agent, boundsOf(ctx), parent?.permissions)
  if (!state) return undefined
  const url = orchestratorUrl(ctx.opts.tokens, at.network)
  const setup = pluginPermissions(agent, {
    ...pluginContext(config, at.workerId, hostEnv),
    timeoutMs: state.timeoutMs,
    permitCommand: (format) => permitCommand(url, format),
  })!
  const files = Object.entries(setup.files).map(([path, text]) => ({
    path,
    content: utf8Encode(text),
    opts: { mode: 0o644, uid: 0, gid: 0 },
  }))
  return { state, files, env: { PATH: SYSTEM_FIRST_PATH, ...setup.env } }
}
