import { realpath } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { BadRequestError } from '../../core/errors.ts'
import type { ContainerSpec } from '../../core/runtime.ts'
import { dockerCall, mustCall, type DockerContext } from '../docker-call.ts'
import { dockerStatus } from '../docker-errors.ts'
import { archiveHeader } from '../docker-files.ts'
import type { ContainerDaemon } from './container-daemon.ts'
import type { DaemonConnection } from './daemon-connection.ts'
import type { WorkerDaemons } from './worker-daemons.ts'

/** Where a container sees its daemon directory (read-only). */
export const DAEMON_MOUNT = '/run/workers-spawner/daemon'
/** The env variable that carries the daemon's secret into the container. */
export const DAEMON_SECRET_ENV = 'SPAWNERD_SECRET'
/** The daemon's program in the worker image. */
export const DAEMON_BINARY = '/usr/local/bin/spawnerd'

/** How long after its listener starts a container's first daemon connection is waited for. */
const FIRST_CONNECT_MS = 2000
/** How long a request waits for an idle connection while the daemon is connected but busy. */
const BUSY_WAIT_MS = 2000
/** Least time between two restarts of one container's daemon. */
const RESTART_EVERY_MS = 10_000
/**
 * How long a daemon that was connected may stay away before it is restarted: the image's
 * entrypoint restarts it after a second by itself, and two would both stay.
 */
const RESTART_AFTER_MS = 3000
/** Containers described at once (bounded, oldest out). */
const MAX_KNOWN = 10_000

/** What the router knows of a container, from `run` or one inspect. */
interface Known {
  name: string
  /** Whether its daemon directory is mounted where the daemon looks. */
  mounted: boolean
  /** Whether its default user is the worker (the daemon's user): execs may take the daemon. */
  asWorker: boolean
  lastRestart?: number
  hasBinary?: Promise<boolean>
  /** A restart waiting for RESTART_AFTER_MS to pass. */
  restartTimer?: NodeJS.Timeout
}

/** The worker user as a container's `User` may name it. */
const WORKER_USERS = new Set(['1000', '1000:1000', 'worker', 'worker:worker'])

/** A connection to a container's daemon, and the pool to give it back to. */
export interface Routed {
  conn: DaemonConnection
  daemon: ContainerDaemon
}

/**
 * Decides, per operation, whether a container's daemon takes it, and keeps what that needs:
 * which containers have one (from `run`, or one inspect for containers that outlive the
 * process), which the runtime paused, and the restart of a daemon that does not connect.
 * Every decision is counted in `WorkerDaemons.stats`; every fallback logged with its reason.
 */
export class DaemonRouter {
  readonly #known = new Map<string, Promise<Known | undefined>>()
  readonly #paused = new Set<string>()

  constructor(
    readonly ctx: DockerContext,
    readonly daemons: WorkerDaemons,
  ) {}

  /**
   * The spec `run` creates: the container's daemon directory mounted read-only at
   * DAEMON_MOUNT, its listener started, and the secret in DAEMON_SECRET_ENV (over anything the
   * spec says, so no config can set it).
   */
  async prepare(spec: ContainerSpec): Promise<ContainerSpec> {
    await this.#refuseExposure(spec)
    await this.daemons.listen(spec.name)
    return {
      ...spec,
      env: { ...spec.env, [DAEMON_SECRET_ENV]: this.daemons.secretOf(spec.name) },
      mounts: [
        ...spec.mounts.filter((m) => m.target !== DAEMON_MOUNT),
        { source: this.daemons.dirOf(spec.name), target: DAEMON_MOUNT, readOnly: true },
      ],
    }
  }

  /**
   * Refuses a mount whose source is the daemons' base directory, in it, or above it (links
   * resolved): the worker would see the key (with it every worker's secret) and every other
   * worker's socket, and could answer for their daemons. The policy's ALLOWED_MOUNTS may well
   * take such a source (a home directory, say): this is checked whatever it says.
   */
  async #refuseExposure(spec: ContainerSpec): Promise<void> {
    const real = (p: string) => realpath(p).catch(() => resolve(p))
    const base = await real(this.daemons.dir)
    for (const mount of spec.mounts) {
      const source = await real(mount.source)
      const within = (outer: string, inner: string) =>
        inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep)
      if (within(base, source) || within(source, base)) {
        throw new BadRequestError(
          `the mount of ${mount.source} at ${mount.target} would show the worker the directory of the workers' daemons (${this.daemons.dir}); mount something narrower, or move WORKER_DAEMON_DIR`,
          [{ path: 'mounts', message: 'holds the directory of the workers’ daemons' }],
        )
      }
    }
  }

  /** Records a container `run` made, so it needs no inspect later. */
  ran(id: string, spec: ContainerSpec): void {
    const known = { name: spec.name, mounted: true, asWorker: WORKER_USERS.has(spec.user) }
    this.#remember(id, Promise.resolve(known))
  }

  /** A container `run` could not start: its listener and directory go. */
  async failed(spec: ContainerSpec): Promise<void> {
    await this.daemons.remove(spec.name).catch(() => undefined)
  }

  /** Marks a container paused by the runtime (the Engine path answers for it) or not. */
  paused(id: string, yes: boolean): void {
    if (yes) this.#paused.add(id)
    else this.#paused.delete(id)
  }

  /** The name of a container with a daemon directory (asked before it is removed). */
  async nameOf(id: string): Promise<string | undefined> {
    const known = await this.#describe(id).catch(() => undefined)
    return known?.mounted ? known.name : undefined
  }

  /**
   * The name of container `id`, daemon directory or not (the host state's file is named by it);
   * undefined when there is no such container.
   */
  async named(id: string): Promise<string | undefined> {
    return (await this.#describe(id))?.name
  }

  /** Forgets a removed container and removes its listener and directory. */
  async removed(id: string, name: string | undefined): Promise<void> {
    const known = await this.#known.get(id)?.catch(() => undefined)
    clearTimeout(known?.restartTimer)
    this.#known.delete(id)
    this.#paused.delete(id)
    if (name) await this.daemons.remove(name)
  }

  /**
   * A connection to the daemon of container `id` for `op`, or undefined (counted and logged as
   * a fallback with its reason) when the Engine path must answer. `exec` also needs the
   * container's default user to be the worker's.
   */
  async route(id: string, op: string, opts: { exec?: boolean } = {}): Promise<Routed | undefined> {
    const fallback = (reason: string) => {
      this.daemons.count('fallback')
      this.ctx.logger.debug('worker daemon fallback', { containerId: id, op, reason })
      return undefined
    }
    const known = await this.#describe(id).catch(() => undefined)
    if (this.#paused.has(id)) return fallback('paused')
    if (!known) return fallback('container not known')
    if (!known.mounted) return fallback('no daemon directory mounted')
    if (opts.exec && !known.asWorker) return fallback('the container runs as another user')
    const daemon = await this.daemons.listen(known.name).catch((err: unknown) => {
      this.ctx.logger.warn('worker daemon listener failed', {
        containerId: id,
        reason: String(err),
      })
      return undefined
    })
    if (!daemon) return fallback('no listener (another process serves it)')
    const conn = await daemon.acquire(this.#waitFor(daemon))
    if (conn) {
      this.daemons.count('daemon')
      return { conn, daemon }
    }
    if (daemon.live === 0) this.#restartSoon(id, known, daemon)
    return fallback(daemon.live > 0 ? 'daemon busy' : 'daemon not connected')
  }

  /** How long a request may wait for an idle connection of `daemon`. */
  #waitFor(daemon: ContainerDaemon): number {
    if (!daemon.connectedOnce)
      return Math.max(0, daemon.since + FIRST_CONNECT_MS - performance.now())
    return daemon.live > 0 ? BUSY_WAIT_MS : 0
  }

  /**
   * Restarts a daemon that is not connected: at once when it never connected, else once it
   * has been away RESTART_AFTER_MS (and is still away then).
   */
  #restartSoon(id: string, known: Known, daemon: ContainerDaemon): void {
    const due = daemon.lostAt === undefined ? 0 : daemon.lostAt + RESTART_AFTER_MS
    const wait = due - performance.now()
    if (wait <= 0) return void this.#restart(id, known, daemon)
    if (known.restartTimer) return
    known.restartTimer = setTimeout(() => {
      known.restartTimer = undefined
      if (daemon.live === 0 && !daemon.closed) void this.#restart(id, known, daemon)
    }, wait)
    known.restartTimer.unref()
  }

  /**
   * Starts the daemon again (`docker exec -d` as the worker, the secret in the exec's env), at
   * most every RESTART_EVERY_MS, and only where the image has it. Not after a refused HELLO:
   * something there speaks with a wrong secret, and a second daemon would not be better.
   */
  async #restart(id: string, known: Known, daemon: ContainerDaemon): Promise<void> {
    const now = performance.now()
    if (daemon.refused > 0) return
    if (known.lastRestart !== undefined && now - known.lastRestart < RESTART_EVERY_MS) return
    known.lastRestart = now
    try {
      known.hasBinary ??= archiveHeader(this.ctx, id, DAEMON_BINARY).then((h) => h?.type === 'file')
      if (!(await known.hasBinary)) return
      const container = this.ctx.docker.getContainer(id)
      const exec = await mustCall(
        this.ctx,
        'exec create',
        { containerId: id, what: 'daemon restart' },
        () =>
          container.exec({
            Cmd: [DAEMON_BINARY],
            User: '1000:1000',
            Env: [`${DAEMON_SECRET_ENV}=${daemon.secret}`],
            AttachStdin: false,
            AttachStdout: false,
            AttachStderr: false,
          }),
      )
      await mustCall(this.ctx, 'exec start', { containerId: id, execId: exec.id }, () =>
        exec.start({ Detach: true }),
      )
      this.ctx.logger.info('worker daemon restarted', { containerId: id })
    } catch (err) {
      known.hasBinary = undefined
      this.ctx.logger.warn('worker daemon restart failed', { containerId: id, reason: String(err) })
    }
  }

  /** What is known of container `id`; one inspect the first time (undefined: no container). */
  #describe(id: string): Promise<Known | undefined> {
    const seen = this.#known.get(id)
    if (seen) return seen
    const container = this.ctx.docker.getContainer(id)
    const found = dockerCall(
      this.ctx,
      'inspect',
      { containerId: id },
      () => container.inspect(),
      (err) => dockerStatus(err) === 404,
    ).then((info) => {
      if (!info) {
        this.#known.delete(id)
        return undefined
      }
      const name = info.Name.replace(/^\//, '')
      if (info.State?.Paused) this.#paused.add(id)
      const mounted = (info.Mounts ?? []).some(
        (m) => m.Destination === DAEMON_MOUNT && m.Source === this.daemons.dirOf(name),
      )
      return { name, mounted, asWorker: WORKER_USERS.has(info.Config?.User ?? '') }
    })
    this.#remember(id, found)
    found.catch(() => this.#known.delete(id))
    return found
  }

  #remember(id: string, known: Promise<Known | undefined>): void {
    if (this.#known.size >= MAX_KNOWN) this.#known.delete(this.#known.keys().next().value!)
    this.#known.set(id, known)
  }
}
