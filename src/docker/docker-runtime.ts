import type Dockerode from 'dockerode'
import { BadRequestError, NotFoundError, SpawnerError, UnavailableError } from '../core/errors.ts'
import { noopLogger, type Logger } from '../core/logger.ts'
import type {
  BuildFile,
  CommitOptions,
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ExecRequest,
  ExecResult,
  GetFileOptions,
  ImageInfo,
  LogLine,
  LogsRequest,
  LogsResult,
  PutFileOptions,
  SpawnedCommand,
  SpawnRequest,
  Terminal,
  TerminalRequest,
  ContainerPipe,
  PipeRequest,
  WatchRequest,
} from '../core/runtime.ts'
import {
  fromInspect,
  fromListing,
  labelFilters,
  toCreateOptions,
  type LogRotation,
} from './container-mapping.ts'
import { dockerCall, mustCall, type DockerContext } from './docker-call.ts'
import { buildImage } from './docker-build.ts'
import { createDocker, describeDockerTarget } from './docker-connection.ts'
import { createRefusal, dockerMessage, dockerStatus, workdirRefusal } from './docker-errors.ts'
import { runExec } from './docker-exec.ts'
import { spawnExec } from './docker-spawn.ts'
import { openTerminal } from './docker-terminal.ts'
import { pipeExec } from './docker-pipe.ts'
import { forgetHelperEnv, type HelperTimeouts } from './exec-helper.ts'
import { forgetStageCheck } from './exec-stage.ts'
import { getFile, putFile } from './docker-files.ts'
import { DaemonPaths } from './daemon/daemon-paths.ts'
import type { DaemonRouter } from './daemon/daemon-router.ts'
import { HostStateFiles } from './daemon/host-state.ts'
import type { DaemonInfo } from './daemon/daemon-ping.ts'
import type { DaemonStats, WorkerDaemons } from './daemon/worker-daemons.ts'
import { followLogs, readLogs } from './docker-logs.ts'
import { pollWatch } from './watch-poll.ts'
import {
  checkpointImage,
  commitContainer,
  listCheckpointImages,
  removeCheckpointImage,
} from './docker-images.ts'

/** Create options that docker-modem sends as the body, with only the name in the query. */
const onlyNameInQuery = (options: Dockerode.ContainerCreateOptions) =>
  ({ _query: { name: options.name }, _body: options }) as Dockerode.ContainerCreateOptions

/** Options of `DockerRuntime`. */
export interface DockerRuntimeOptions {
  /** A ready client; by default one is made from `DOCKER_HOST` (or the default socket). */
  docker?: Dockerode
  logger?: Logger
  /** Where `docker` points, for "not reachable" messages; defaults to `DOCKER_HOST`. */
  target?: string
  /** Rotation of every container's log (default `DEFAULT_LOG_ROTATION`, 10m × 3). */
  logRotation?: LogRotation
  /**
   * The worker API sockets this host offers isolated containers. Without it, an isolated spec
   * that asks for the worker API (`workerApi`) is refused rather than started unreachable.
   */
  workerApi?: WorkerApiSockets
  /** Deadlines of the helper commands the runtime runs in containers (see exec-helper.ts). */
  helperTimeouts?: Partial<HelperTimeouts>
  /**
   * The in-worker daemons (docs/daemon-protocol.md): with them, every container gets its
   * daemon directory and secret, and commands, files, terminals and watches take the daemon
   * whenever it answers, the Engine otherwise. Without them, everything goes through the Engine.
   */
  daemons?: WorkerDaemons
  /**
   * With `daemons`: no container gets a daemon and everything goes through the Engine, but the
   * daemons' directory still keeps the workers' state (`putState`), so a service switched to
   * `WORKER_DAEMON=off` finds the state of the workers it made with them on.
   */
  engineOnly?: boolean
}

/** Where isolated containers find the worker API: a host directory holding `api.sock`. */
export interface WorkerApiSockets {
  /**
   * The host directory whose socket leads to `upstream` (the spec's `workerApi`): one the
   * service serves itself, or a relay to it. It is bind-mounted read-only into the container.
   */
  dirFor(upstream: string): Promise<string>
}

const isStatus = (status: number, pattern?: RegExp) => (err: unknown) =>
  dockerStatus(err) === status && (pattern === undefined || pattern.test(dockerMessage(err)))

// Engine 20.10 answers "not paused" with a 500, newer ones with a 409: match the message.
const says = (pattern: RegExp) => (err: unknown) =>
  dockerStatus(err) !== undefined && pattern.test(dockerMessage(err))

/**
 * `ContainerRuntime` on a Docker Engine through dockerode. Every Engine call is logged at
 * debug level with its container id; idempotent answers (already paused, already gone)
 * are absorbed; failures become SpawnerErrors (503 unreachable, 404, 409, 502 otherwise).
 *
 * @example
 * const runtime = new DockerRuntime({ logger })
 * await runtime.ping()
 * const id = await runtime.run(spec)
 * const { exitCode, stdout } = await runtime.exec(id, { argv: ['ls'], timeoutMs: 30_000 })
 */
export class DockerRuntime implements ContainerRuntime {
  readonly #ctx: DockerContext
  readonly #logRotation: LogRotation | undefined
  readonly #workerApi: WorkerApiSockets | undefined
  readonly #daemons: DaemonPaths | undefined
  /** Names containers for their daemon directory and state file (also when `engineOnly`). */
  readonly #router: DaemonRouter | undefined
  readonly #states: HostStateFiles | undefined

  /**
   * Keeps a container's state on this host beside its daemon directory (`StateKeepingRuntime`):
   * offered only with the daemons, whose base directory (0700, never mounted) holds it.
   */
  readonly putState?: (id: string, bytes: Uint8Array) => Promise<void>
  /** See `putState`. */
  readonly getState?: (id: string, maxBytes: number) => Promise<Uint8Array | undefined>

  constructor(opts: DockerRuntimeOptions = {}) {
    this.#logRotation = opts.logRotation
    this.#ctx = {
      docker: opts.docker ?? createDocker(),
      logger: opts.logger ?? noopLogger,
      target: opts.target ?? describeDockerTarget(process.env),
      ...(opts.helperTimeouts ? { helperTimeouts: opts.helperTimeouts } : {}),
    }
    this.#workerApi = opts.workerApi
    const paths = opts.daemons && new DaemonPaths(this.#ctx, opts.daemons, (id) => this.inspect(id))
    this.#router = paths?.router
    this.#daemons = opts.engineOnly ? undefined : paths
    if (opts.daemons) {
      const states = new HostStateFiles((name) => opts.daemons!.dirOf(name))
      this.#states = states
      this.putState = async (id, bytes) => states.put(await this.#nameOf(id), bytes)
      this.getState = async (id, maxBytes) => states.get(await this.#nameOf(id), maxBytes)
    }
  }

  /** Container `id`'s name (known from `run`, else one inspect); NotFoundError when it is gone. */
  async #nameOf(id: string): Promise<string> {
    const name = await this.#router?.named(id)
    if (!name) throw new NotFoundError(`no such container: ${id}`)
    return name
  }

  /**
   * What container `id`'s daemon says of itself (pid, version, resident memory), or undefined
   * when it does not answer (or daemons are off).
   */
  async daemonInfo(id: string): Promise<DaemonInfo | undefined> {
    return this.#daemons?.info(id)
  }

  /** How many operations took a worker's daemon and how many fell back to the Engine. */
  daemonStats(): DaemonStats {
    return this.#daemons?.stats() ?? { daemon: 0, fallback: 0 }
  }

  async ping(): Promise<void> {
    await mustCall(this.#ctx, 'ping', {}, () => this.#ctx.docker.ping())
  }

  async runtimes(): Promise<string[]> {
    const info = await mustCall(this.#ctx, 'info', {}, () => this.#ctx.docker.info())
    return Object.keys((info as { Runtimes?: Record<string, unknown> }).Runtimes ?? {})
  }

  async imageId(tag: string): Promise<string | undefined> {
    const image = this.#ctx.docker.getImage(tag)
    const found = await dockerCall(
      this.#ctx,
      'image inspect',
      { tag },
      () => image.inspect(),
      isStatus(404),
    )
    return found?.Id
  }

  async hasImage(tag: string): Promise<boolean> {
    return (await this.imageId(tag)) !== undefined
  }

  buildImage(
    tag: string,
    dockerfile: string,
    opts?: {
      files?: BuildFile[]
      labels?: Record<string, string>
      onProgress?: (line: string) => void
    },
  ): Promise<void> {
    return buildImage(this.#ctx, tag, dockerfile, opts)
  }

  /** Creates and starts the container; a container that fails to start is removed again. */
  async run(given: ContainerSpec): Promise<string> {
    const apiDir = await this.#apiDir(given)
    const spec = this.#daemons ? await this.#daemons.router.prepare(given) : given
    try {
      const id = await this.#create(spec, apiDir)
      this.#daemons?.router.ran(id, spec)
      return id
    } catch (err) {
      // A name in use is another container's: its directory stays.
      if (!(err instanceof SpawnerError && err.kind === 'conflict'))
        await this.#daemons?.router.failed(spec)
      throw err
    }
  }

  async #create(spec: ContainerSpec, apiDir: string | undefined): Promise<string> {
    const created = await mustCall(
      this.#ctx,
      'create',
      { name: spec.name, image: spec.image, network: spec.network ?? 'isolated' },
      () =>
        // Only the name goes in the URL: by default docker-modem copies every option into the
        // query string too, where env values (secrets) show, megabytes get a 431 and a lone
        // surrogate throws.
        this.#ctx.docker
          .createContainer(
            onlyNameInQuery(toCreateOptions(spec, { apiDir, logs: this.#logRotation })),
          )
          .catch((err: unknown) => {
            throw createRefusal(err) ?? workdirRefusal(err, spec.workdir) ?? err
          }),
    )
    const containerId = created.id
    try {
      await mustCall(this.#ctx, 'start', { containerId }, () =>
        created.start().catch((err: unknown) => {
          throw workdirRefusal(err, spec.workdir) ?? err
        }),
      )
    } catch (err) {
      await this.remove(containerId).catch(() => undefined)
      throw err
    }
    return containerId
  }

  /** The host directory of an isolated container's worker API socket, if it has the API. */
  async #apiDir(spec: ContainerSpec): Promise<string | undefined> {
    if (spec.network === 'open' || !spec.workerApi) return undefined
    if (!this.#workerApi) {
      throw new BadRequestError(
        "network 'isolated': this Docker runtime serves no worker API socket, so the worker " +
          'could not reach the service. Give the runtime one (the service and the host agent ' +
          "do by themselves), or create the worker with network 'open'",
        [{ path: 'network', message: 'no worker API socket on this Docker host' }],
        'network_unavailable',
      )
    }
    return this.#workerApi.dirFor(spec.workerApi)
  }

  /**
   * Runs a command as the container's default user. On timeout the command and everything
   * it started are killed and the result has `timedOut: true` and exit code 124; when
   * `signal` aborts they are killed the same way and the exit code is 130. Either way the
   * output printed until then is returned. A paused container gives a ConflictError.
   */
  exec(id: string, req: ExecRequest): Promise<ExecResult> {
    if (!this.#daemons) return runExec(this.#ctx, id, req)
    return this.#daemons.exec(id, req, (r) => runExec(this.#ctx, id, r))
  }

  /** Starts a long-lived command with its stdin open (see `spawnExec`). */
  spawn(id: string, req: SpawnRequest): Promise<SpawnedCommand> {
    const env = this.#daemons?.engineEnv(req.env)
    return spawnExec(this.#ctx, id, env ? { ...req, env } : req)
  }

  /** Opens a login shell in a PTY as uid 1000 (see `openTerminal` in docker-terminal.ts). */
  openTerminal(id: string, req: TerminalRequest): Promise<Terminal> {
    if (!this.#daemons) return openTerminal(this.#ctx, id, req)
    return this.#daemons.openTerminal(id, req, (r) => openTerminal(this.#ctx, id, r))
  }

  /**
   * Watches a directory as uid 1000 (see `WatchingRuntime`): through the worker's daemon
   * (inotify) when it answers, else by polling through the Engine (see `pollWatch`).
   */
  watch(id: string, req: WatchRequest): Promise<void> {
    const engine = (r: WatchRequest) => pollWatch(this.#ctx, id, r)
    return this.#daemons ? this.#daemons.watch(id, req, engine) : engine(req)
  }

  /** Holds a binary stream both ways with a helper command (see `pipeExec`). */
  pipe(id: string, req: PipeRequest): Promise<ContainerPipe> {
    return pipeExec(this.#ctx, id, req)
  }

  /**
   * Writes a file (binary-safe) as uid 1000 (`worker`) unless told otherwise, mode 0644 by
   * default; see `FileAccess` in core/runtime.ts and `putFile` in docker-files.ts.
   */
  putFile(id: string, path: string, content: Uint8Array, opts: PutFileOptions = {}) {
    const engine = () => putFile(this.#ctx, id, path, content, opts)
    return this.#daemons ? this.#daemons.putFile(id, path, content, opts, engine) : engine()
  }

  /** Reads a regular file; see `getFile` in docker-files.ts for the errors. */
  getFile(id: string, path: string, opts: GetFileOptions = {}): Promise<Uint8Array> {
    const engine = () => getFile(this.#ctx, id, path, opts)
    return this.#daemons ? this.#daemons.getFile(id, path, opts, engine) : engine()
  }

  /** The last `tail` lines, at most `maxBytes` of them (default 16 MiB; see `readLogs`). */
  logs(id: string, req?: LogsRequest): Promise<LogsResult> {
    return readLogs(this.#ctx, id, req)
  }

  followLogs(
    id: string,
    req: LogsRequest,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return followLogs(this.#ctx, id, req, onLine, signal)
  }

  async pause(containerId: string): Promise<void> {
    // Before the Engine call: a request routed meanwhile must not wait on a frozen daemon.
    this.#daemons?.router.paused(containerId, true)
    const container = this.#ctx.docker.getContainer(containerId)
    await dockerCall(
      this.#ctx,
      'pause',
      { containerId },
      () => container.pause(),
      says(/already paused/i),
    )
  }

  async unpause(containerId: string): Promise<void> {
    const container = this.#ctx.docker.getContainer(containerId)
    await dockerCall(
      this.#ctx,
      'unpause',
      { containerId },
      () => container.unpause(),
      says(/is not paused/i),
    )
    this.#daemons?.router.paused(containerId, false)
  }

  async remove(containerId: string): Promise<void> {
    const daemonOf = await this.#router?.nameOf(containerId)
    const stateOf = this.#states && (await this.#router?.named(containerId).catch(() => undefined))
    const container = this.#ctx.docker.getContainer(containerId)
    const gone = (err: unknown) => isStatus(404)(err) || isStatus(409, /already in progress/i)(err)
    await dockerCall(
      this.#ctx,
      'remove',
      { containerId },
      () => container.remove({ force: true, v: true }),
      gone,
    )
    forgetStageCheck(this.#ctx, containerId)
    forgetHelperEnv(this.#ctx, containerId)
    await this.#router?.removed(containerId, daemonOf)
    // After the container: a remove that failed leaves the worker with its state.
    if (stateOf) await this.#states?.remove(stateOf)
  }

  async inspect(containerId: string): Promise<ContainerInfo | undefined> {
    const container = this.#ctx.docker.getContainer(containerId)
    const info = await dockerCall(
      this.#ctx,
      'inspect',
      { containerId },
      () => container.inspect(),
      isStatus(404),
    )
    return info && fromInspect(info)
  }

  async list(labels: Record<string, string | undefined>): Promise<ContainerInfo[]> {
    const filters = { label: labelFilters(labels) }
    const rows = await mustCall(this.#ctx, 'list', { labels: filters.label }, () =>
      this.#ctx.docker.listContainers({ all: true, filters }),
    )
    return rows.map(fromListing)
  }

  /** `docker commit` with the container paused meanwhile; see docker-images.ts. */
  commit(containerId: string, tag: string, opts: CommitOptions): Promise<ImageInfo> {
    return commitContainer(this.#ctx, containerId, tag, opts)
  }

  removeImage(tag: string): Promise<void> {
    return removeCheckpointImage(this.#ctx, tag)
  }

  checkpointImage(tag: string): Promise<ImageInfo | undefined> {
    return checkpointImage(this.#ctx, tag)
  }

  listImages(labels: Record<string, string | undefined>): Promise<ImageInfo[]> {
    return listCheckpointImages(this.#ctx, labels)
  }
}
