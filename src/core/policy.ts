import { DEFAULT_NETWORK_POLICY, type NetworkPolicy } from './network.ts'
import type { PermissionBounds } from './permission-policy.ts'

/**
 * What the operator allows workers to get, beyond what a WorkerConfig can say. Plugins are
 * code the operator installed, but what they ask for (host mounts, added capabilities, another
 * OCI runtime) reaches past the container, so it is checked against this policy at every create.
 */
export interface WorkerPolicy {
  /** Longest lifetime a worker may have, at create and after `update` (seconds). */
  maxTtlSeconds: number
  /** Workers at once on this instance; 0 = no limit. */
  maxWorkers: number
  /** Workers in one tree (an operator's worker and all its sub-workers). */
  maxTreeWorkers: number
  /** Commands and file operations one worker may run at once. */
  maxWorkerCommands: number
  /** Commands and file operations all workers of this instance may run at once. */
  maxCommands: number
  /** Host paths that may be bind-mounted, by prefix; writable only where `writable`. */
  mounts: MountRule[]
  /** Linux capabilities that may be added back. */
  caps: string[]
  /** OCI runtimes that may be asked for. */
  runtimes: string[]
  /** What a worker's network may be, and its default. */
  network: NetworkPolicy
  /** How far workers' permissions are bounded (default: DEFAULT_PERMISSION_BOUNDS). */
  permissions?: PermissionBounds
}

export interface MountRule {
  prefix: string
  writable: boolean
}

/** The policy when the operator sets nothing: no host mounts, no added capabilities. */
export const DEFAULT_POLICY: WorkerPolicy = {
  maxTtlSeconds: 30 * 86_400,
  maxWorkers: 500,
  maxTreeWorkers: 16,
  maxWorkerCommands: 8,
  maxCommands: 64,
  mounts: [],
  caps: [],
  runtimes: ['sysbox-runc'],
  network: DEFAULT_NETWORK_POLICY,
}

/** Parses `ALLOWED_MOUNTS` entries: `/path` (read-only) or `/path:rw`. */
export const parseMountRules = (entries: readonly string[]): MountRule[] =>
  entries.map((entry) => {
    const writable = entry.endsWith(':rw')
    const prefix = entry.replace(/:(rw|ro)$/, '').replace(/\/+$/, '') || '/'
    if (!prefix.startsWith('/') || prefix.split('/').includes('..')) {
      throw new Error(
        `ALLOWED_MOUNTS: '${entry}' must be an absolute path without '..' (optionally :rw)`,
      )
    }
    return { prefix, writable }
  })

/** Host paths no rule can open: the container engine's own sockets are root on the host. */
const NEVER = [
  /(^|\/)docker\.sock$/,
  /^\/(var\/)?run\/(docker|containerd)(\/|$)/,
  /^\/proc(\/|$)/,
  /^\/sys(\/|$)/,
]

/**
 * Why a mount is refused, or undefined when the policy allows it. A source is matched by
 * path prefix after `.` and repeated slashes are folded; `..` is never allowed.
 */
export const mountRefusal = (
  mount: { source: string; readOnly: boolean },
  rules: readonly MountRule[],
): string | undefined => {
  const parts = mount.source.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.includes('..')) return "must not contain '..'"
  const source = '/' + parts.join('/')
  if (NEVER.some((re) => re.test(source)))
    return 'is never allowed (container engine or kernel interface)'
  const matching = rules.filter(
    (r) => r.prefix === '/' || source === r.prefix || source.startsWith(r.prefix + '/'),
  )
  if (matching.length === 0) return 'is not under ALLOWED_MOUNTS'
  if (!mount.readOnly && !matching.some((r) => r.writable)) {
    return `may only be mounted read-only (add '${source}:rw' to ALLOWED_MOUNTS to allow writes)`
  }
  return undefined
}
