import { ConflictError, UnavailableError } from '../../core/errors.ts'
import type {
  ContainerInfo,
  ExecRequest,
  ExecResult,
  GetFileOptions,
  PutFileOptions,
  Terminal,
  TerminalRequest,
  WatchRequest,
} from '../../core/runtime.ts'
import type { DockerContext } from '../docker-call.ts'
import { EXIT_ABORTED } from '../docker-exec.ts'
import { absolute, rootOnly, rootsOf, userOf, WORKER_UID } from '../docker-files.ts'
import { helperTimeout, runHelper } from '../exec-helper.ts'
import { killCommand, newExecKey } from '../exec-wrapper.ts'
import { daemonExec, execOutOfBounds } from './daemon-exec.ts'
import { DaemonDeniedError, daemonGetFile, daemonPutFile } from './daemon-files.ts'
import { daemonPing, type DaemonInfo } from './daemon-ping.ts'
import { DAEMON_SECRET_ENV, DaemonRouter, type Routed } from './daemon-router.ts'
import { daemonTerminal } from './daemon-terminal.ts'
import { daemonWatch } from './daemon-watch.ts'
import { DaemonLostError } from './daemon-request.ts'
import type { DaemonStats, WorkerDaemons } from './worker-daemons.ts'

/** How long a daemon request may hear nothing before the container is checked for a pause. */
const FREEZE_CHECK_MS = 1000

/**
 * The operations `DockerRuntime` sends through a worker's daemon, each with the Engine's way
 * (`engine`) for when the daemon does not answer: same results, same errors. Also what `run`,
 * `pause` and `remove` tell the daemons (see `DaemonRouter`).
 */
export class DaemonPaths {
  readonly router: DaemonRouter

  constructor(
    readonly ctx: DockerContext,
    readonly daemons: WorkerDaemons,
    /** The runtime's inspect (a paused or vanished container is told by it). */
    readonly inspect: (id: string) => Promise<ContainerInfo | undefined>,
  ) {
    this.router = new DaemonRouter(ctx, daemons)
  }

  stats(): DaemonStats {
    return this.daemons.stats()
  }

  /**
   * The env of a command the Engine runs: the daemon's secret, which the container's env holds
   * for its entrypoint, blanked (the daemon scrubs it from its own).
   */
  engineEnv(env: Record<string, string> | undefined): Record<string, string> {
    return { ...env, [DAEMON_SECRET_ENV]: '' }
  }

  /** `runExec`'s semantics through the daemon (see daemon-exec.ts), else `engine`. */
  async exec(
    id: string,
    req: ExecRequest,
    engine: (req: ExecRequest) => Promise<ExecResult>,
  ): Promise<ExecResult> {
    if (req.signal?.aborted) {
      return { exitCode: EXIT_ABORTED, stdout: '', stderr: '', timedOut: false, durationMs: 0 }
    }
    const outside = execOutOfBounds(req)
    if (outside) {
      const reason = `${outside} out of its bounds`
      this.ctx.logger.debug('worker daemon fallback', { containerId: id, op: 'exec', reason })
    }
    const routed = outside ? undefined : await this.router.route(id, 'exec', { exec: true })
    if (!routed) return engine({ ...req, env: this.engineEnv(req.env) })
    return this.#using(id, routed, () =>
      daemonExec(routed.conn, req, newExecKey(), {
        killTag: (tag) => this.#killTag(id, tag, routed.conn.pid),
        logger: this.ctx.logger,
        containerId: id,
      }),
    )
  }

  /** Writes a file as the worker through the daemon, else `engine`. */
  async putFile(
    id: string,
    path: string,
    content: Uint8Array,
    opts: PutFileOptions,
    engine: () => Promise<void>,
  ): Promise<void> {
    const file = absolute(path)
    const roots = rootsOf(opts)
    const routed = await this.#fileRoute(id, 'write', opts)
    if (!routed) return engine()
    const timeoutMs = helperTimeout(this.ctx, 'fileMs')
    const mode = opts.mode ?? 0o644
    return this.#orEngine(id, engine, () =>
      this.#using(id, routed, () =>
        daemonPutFile(routed.conn, { file, roots, timeoutMs }, content, mode),
      ),
    )
  }

  /** Reads a file as the worker through the daemon, else `engine`. */
  async getFile(
    id: string,
    path: string,
    opts: GetFileOptions,
    engine: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const file = absolute(path)
    const roots = rootsOf(opts)
    const routed = await this.#fileRoute(id, 'read', opts)
    if (!routed) return engine()
    const timeoutMs = helperTimeout(this.ctx, 'fileMs')
    const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
    return this.#orEngine(id, engine, () =>
      this.#using(id, routed, () =>
        daemonGetFile(routed.conn, { file, roots, timeoutMs }, maxBytes),
      ),
    )
  }

  /** A shell in a PTY through the daemon, else `engine` (with the secret blanked). */
  async openTerminal(
    id: string,
    req: TerminalRequest,
    engine: (req: TerminalRequest) => Promise<Terminal>,
  ): Promise<Terminal> {
    const routed = await this.router.route(id, 'pty')
    if (!routed) return engine({ ...req, env: this.engineEnv(req.env) })
    return daemonTerminal(routed, req, { logger: this.ctx.logger, containerId: id })
  }

  /**
   * Watches through the daemon (inotify), else `engine` (polling). A daemon that goes while the
   * container runs (the agent killed it) hands the watch over to `engine`, after an `overflow`:
   * changes in between may be missing.
   */
  async watch(
    id: string,
    req: WatchRequest,
    engine: (req: WatchRequest) => Promise<void>,
  ): Promise<void> {
    const routed = await this.router.route(id, 'watch')
    if (!routed) return engine(req)
    try {
      await this.#using(id, routed, () =>
        daemonWatch(routed.conn, req, {
          containerGone: async () => (await this.inspect(id))?.state !== 'running',
        }),
      )
    } catch (err) {
      if (!(err instanceof DaemonLostError) || req.signal.aborted) throw err
      this.ctx.logger.debug('worker daemon fallback', {
        containerId: id,
        op: 'watch',
        reason: 'the daemon went away',
      })
      try {
        req.onChange({ type: 'overflow' })
      } catch {
        // A listener that throws loses that change, never the watch.
      }
      // The daemon also goes when the container stops: a watch of a container that is no more
      // ends, whichever of the two the Engine tells first.
      const gone = async () => (await this.inspect(id).catch(() => undefined))?.state !== 'running'
      try {
        await engine(req)
      } catch (err) {
        if (!(await gone())) throw err
      }
    }
  }

  /** What the daemon says of itself, or undefined when it does not answer. */
  async info(id: string): Promise<DaemonInfo | undefined> {
    const routed = await this.router.route(id, 'ping')
    if (!routed) return undefined
    return this.#using(id, routed, () => daemonPing(routed.conn))
  }

  /**
   * Runs `fn` on a daemon connection and gives the connection back to its pool after. A
   * request that hears nothing for FREEZE_CHECK_MS is checked once: in a container paused
   * behind the runtime's back the daemon is frozen, so the request is dropped with the
   * ConflictError the Engine gives there (the service then resumes the worker and retries).
   */
  async #using<T>(id: string, routed: Routed, fn: () => Promise<T>): Promise<T> {
    const { conn } = routed
    const seen = conn.framesIn
    let frozen = false
    const silent = () => conn.busy && conn.framesIn === seen
    const timer = setTimeout(() => {
      if (!silent()) return
      void this.inspect(id).then(
        (info) => {
          if (info?.state !== 'paused' || !silent()) return
          frozen = true
          this.router.paused(id, true)
          conn.close('the container is paused')
        },
        () => undefined,
      )
    }, FREEZE_CHECK_MS)
    try {
      return await fn()
    } catch (err) {
      if (frozen) throw new ConflictError(`container ${id} is paused`, 'conflict', { cause: err })
      throw err
    } finally {
      clearTimeout(timer)
      routed.daemon.release(conn)
    }
  }

  /** A daemon file operation, redone the Engine's way where the kernel denied the daemon. */
  async #orEngine<T>(id: string, engine: () => Promise<T>, daemon: () => Promise<T>): Promise<T> {
    try {
      return await daemon()
    } catch (err) {
      if (!(err instanceof DaemonDeniedError)) throw err
      this.daemons.recount()
      const reason = 'permission denied to the daemon'
      this.ctx.logger.debug('worker daemon fallback', { containerId: id, op: 'file', reason })
      return engine()
    }
  }

  /**
   * Kills, through the Engine, the processes of a daemon exec tagged `tag` as `runExec` kills
   * its own (their sessions, what holds their output), sparing the daemon's session.
   */
  async #killTag(id: string, tag: string, daemonPid: number | undefined): Promise<void> {
    const timeoutMs = helperTimeout(this.ctx, 'killMs')
    await runHelper(this.ctx, id, killCommand(tag, daemonPid ?? 1), { what: 'kill', timeoutMs })
  }

  /** A connection for a file operation as `opts`' user, when that is the daemon's user. */
  async #fileRoute(id: string, op: string, opts: PutFileOptions | GetFileOptions) {
    const { uid, gid } = userOf(opts)
    if (rootOnly(uid, opts) || uid !== WORKER_UID || gid !== WORKER_UID) return undefined
    return this.router.route(id, op)
  }
}
