import type Dockerode from 'dockerode'
import type { ContainerInfo, ContainerSpec, ContainerState } from '../core/runtime.ts'
import { WORKER_API_DIR } from '../core/worker-api.ts'
import { DEFAULT_LOG_ROTATION, type LogRotation } from '../core/log-rotation.ts'

export { DEFAULT_LOG_ROTATION, type LogRotation } from '../core/log-rotation.ts'

/**
 * The Engine's create-container body for a spec. Containers never get a TTY or stdin,
 * never restart on their own and are never auto-removed: the spawner owns their lifetime.
 * Mounts use the `Mounts` form, so a missing bind source fails instead of being created
 * as an empty root-owned directory. The log is rotated whatever the daemon's default: a
 * worker that floods its stdout cannot fill the host's disk.
 *
 * An isolated container (`network` absent or `isolated`) gets network mode `none`, so only its
 * own loopback: no internet, no host, no other container. `apiDir` is the host directory that
 * holds its worker API socket, mounted read-only at `WORKER_API_DIR`.
 */
export const toCreateOptions = (
  spec: ContainerSpec,
  opts: { logs?: LogRotation | undefined; apiDir?: string | undefined } = {},
): Dockerode.ContainerCreateOptions => {
  const logs = opts.logs ?? DEFAULT_LOG_ROTATION
  const open = spec.network === 'open'
  const mounts =
    open || !opts.apiDir
      ? spec.mounts
      : [...spec.mounts, { source: opts.apiDir, target: WORKER_API_DIR, readOnly: true }]
  return {
    name: spec.name,
    Image: spec.image,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: spec.labels,
    User: spec.user,
    WorkingDir: spec.workdir,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      Mounts: mounts.map((m) => ({
        Type: 'bind' as const,
        Source: m.source,
        Target: m.target,
        ReadOnly: m.readOnly,
      })),
      Memory: spec.memoryBytes,
      NanoCpus: spec.nanoCpus,
      PidsLimit: spec.pidsLimit,
      SecurityOpt: spec.securityOpt,
      CapDrop: spec.capDrop,
      CapAdd: spec.capAdd,
      ...(spec.runtime ? { Runtime: spec.runtime } : {}),
      ...(spec.shmSizeBytes ? { ShmSize: spec.shmSizeBytes } : {}),
      ...(open ? { ExtraHosts: spec.extraHosts } : { NetworkMode: 'none' }),
      Init: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      LogConfig: {
        Type: 'json-file',
        Config: { 'max-size': logs.maxSize, 'max-file': String(logs.maxFiles) },
      },
    },
  }
}

const STATES = new Set<ContainerState>([
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
  'removing',
])

const toState = (status: string | undefined): ContainerState =>
  STATES.has(status as ContainerState) ? (status as ContainerState) : 'dead'

/** `ContainerInfo` from `GET /containers/{id}/json`. */
export const fromInspect = (info: Dockerode.ContainerInspectInfo): ContainerInfo => ({
  id: info.Id,
  name: info.Name.replace(/^\//, ''),
  image: info.Config.Image,
  state: toState(info.State.Status),
  labels: info.Config.Labels ?? {},
  createdAt: new Date(info.Created).toISOString(),
})

/** `ContainerInfo` from one row of `GET /containers/json`. */
export const fromListing = (row: Dockerode.ContainerInfo): ContainerInfo => ({
  id: row.Id,
  name: (row.Names[0] ?? '').replace(/^\//, ''),
  image: row.Image,
  state: toState(row.State),
  labels: row.Labels ?? {},
  createdAt: new Date(row.Created * 1000).toISOString(),
})

/** Engine label filters: `key=value`, or `key` alone when any value will do. */
export const labelFilters = (labels: Record<string, string | undefined>): string[] =>
  Object.entries(labels).map(([key, value]) => (value === undefined ? key : `${key}=${value}`))
