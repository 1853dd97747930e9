/**
 * The only way the core reaches containers. `DockerRuntime` (src/docker) implements it with
 * dockerode; a remote client implements it over the host agent's HTTP API.
 */

/** A container to create, fully resolved (see `buildContainerSpec`). */
export interface ContainerSpec {
  name: string
  image: string
  env: Record<string, string>
  labels: Record<string, string>
  user: string
  workdir: string
  mounts: { source: string; target: string; readOnly: boolean }[]
  memoryBytes: number
  nanoCpus: number
  pidsLimit: number
  securityOpt: string[]
  capDrop: string[]
  capAdd: string[]
  runtime?: string
  shmSizeBytes?: number
  /** `/etc/hosts` entries; `open` containers only (an isolated one has no host to name). */
  extraHosts: string[]
  /**
   * `isolated` (also when absent): no network but loopback (Docker `none`). `open`: Docker's
   * default bridge. See `networkSchema` in config.ts.
   */
  network?: 'isolated' | 'open'
  /**
   * The service's worker API (its ORCHESTRATOR_URL). An isolated container with it gets the
   * worker API socket mounted at `WORKER_API_DIR` (worker-api.ts): the runtime serves that
   * socket itself, or relays it here (a host agent). Without it, no socket is mounted.
   */
  workerApi?: string
}

export type ContainerState =
  'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing'

/** What the runtime knows of one container. */
export interface ContainerInfo {
  id: string
  name: string
  image: string
  state: ContainerState
  labels: Record<string, string>
  createdAt: string
}

/** A command to run in a container. */
export interface ExecRequest {
  argv: string[]
  env?: Record<string, string>
  workdir?: string
  /** Bytes fed to the command's standard input. */
  stdin?: string
  /** The command and everything it started are killed after this long. */
  timeoutMs?: number
  signal?: AbortSignal
  /**
   * Called with each chunk of output, in order, while the command runs. It sees what the
   * result keeps, plus one notice on stderr for each stream cut short.
   */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void
  /**
   * Bytes of each stream kept (default 16 MiB); later output is dropped, from the result and
   * from `onOutput` alike, and the result has `truncated: true`.
   */
  maxOutputBytes?: number
}

export interface ExecResult {
  exitCode: number
  stdout: string
  stderr: string
  timedOut: boolean
  durationMs: number
  /** Set when stdout or stderr went past `maxOutputBytes` and was cut short. */
  truncated?: boolean
}

/** A long-lived command whose standard input stays open (see `ContainerRuntime.spawn`). */
export interface SpawnRequest {
  argv: string[]
  env?: Record<string, string>
  workdir?: string
  /** Called with each chunk of output, in order, while the command runs. */
  onOutput: (stream: 'stdout' | 'stderr', chunk: string) => void
}

/** A command started by `spawn`. */
export interface SpawnedCommand {
  /** Writes to the command's standard input. */
  write(data: string): void
  /** Closes the command's stdin (an ACP agent ends at that), without waiting. */
  end(): void
  /** Kills the command and everything it started; resolves once its output has ended. */
  kill(): Promise<void>
  /** Settles with the exit code once the command has ended, on its own or killed. */
  readonly exited: Promise<number>
}

/**
 * A runtime that can start a command that keeps running, its stdin open, as the container's
 * default user (an agent speaking ACP on stdio). Docker can; a runtime that cannot hold a
 * stream both ways (a host agent over HTTP) does not offer it.
 */
export interface SpawningRuntime {
  spawn(id: string, req: SpawnRequest): Promise<SpawnedCommand>
}

/** Whether `runtime` offers `spawn`. */
export const canSpawn = (
  runtime: ContainerRuntime,
): runtime is ContainerRuntime & SpawningRuntime =>
  typeof (runtime as Partial<SpawningRuntime>).spawn === 'function'

/** An interactive shell to open in a container (see `TerminalRuntime`). */
export interface TerminalRequest {
  /** The program run in the PTY; default the worker user's login shell. */
  argv?: string[]
  env?: Record<string, string>
  workdir?: string
  /** Initial size of the PTY, in characters. */
  cols: number
  rows: number
  /** Called with the PTY's output as it comes: raw bytes, not necessarily whole characters. */
  onOutput: (chunk: Uint8Array) => void
}

/** A shell running in a PTY (see `TerminalRuntime.openTerminal`). */
export interface Terminal {
  /** Writes keystrokes (or pasted text) to the PTY. */
  write(data: string | Uint8Array): void
  /** Changes the PTY's size; the shell gets SIGWINCH. */
  resize(cols: number, rows: number): Promise<void>
  /** Stops reading output (a slow client): the PTY fills and its writers block. */
  pause(): void
  /** Reads output again after `pause`. */
  resume(): void
  /** Kills the shell and everything it started; resolves once its output has ended. */
  kill(): Promise<void>
  /** Settles with the exit code once the shell has ended, on its own or killed. */
  readonly exited: Promise<number>
}

/**
 * A runtime that can open a shell in a PTY inside a container, as the worker user (uid 1000,
 * never root), with its input open and its size changeable. Docker in this process can; a host
 * agent over HTTP does not offer it.
 */
export interface TerminalRuntime {
  openTerminal(id: string, req: TerminalRequest): Promise<Terminal>
}

/** Whether `runtime` offers `openTerminal`. */
export const canOpenTerminal = (
  runtime: ContainerRuntime,
): runtime is ContainerRuntime & TerminalRuntime =>
  typeof (runtime as Partial<TerminalRuntime>).openTerminal === 'function'
/**
 * A runtime that keeps a few bytes for each container on its host, beside the container and
 * never inside it or mounted into it: the worker's signed state, out of the agent's reach, read
 * and written without an Engine call. Anything on the host that shares the runtime's setting
 * (another instance of the service) sees the same bytes. They go with the container (`remove`).
 * Docker with the in-worker daemons offers it; a host agent over HTTP does not.
 */
export interface StateKeepingRuntime {
  /** Replaces container `id`'s bytes at once: a reader sees the old ones or the new ones. */
  putState(id: string, bytes: Uint8Array): Promise<void>
  /**
   * Container `id`'s bytes; undefined when it has none. More than `maxBytes` is a
   * PayloadTooLargeError (nothing past the cap is read).
   */
  getState(id: string, maxBytes: number): Promise<Uint8Array | undefined>
}

/** Whether `runtime` offers `putState` and `getState`. */
export const canKeepState = (
  runtime: ContainerRuntime,
): runtime is ContainerRuntime & StateKeepingRuntime =>
  typeof (runtime as Partial<StateKeepingRuntime>).putState === 'function' &&
  typeof (runtime as Partial<StateKeepingRuntime>).getState === 'function'

/** A command whose standard input and output carry raw bytes (see `PipingRuntime`). */
export interface PipeRequest {
  /** Absolute program path first (it runs as a helper, with a clean environment). */
  argv: string[]
  /** Who it runs as, e.g. `1000:1000`; never root on a worker's behalf. */
  user: string
}

/**
 * A byte stream both ways into a container: what is written reaches the command's stdin
 * (closing `writable` gives it EOF), its stdout comes out of `readable`, untouched.
 */
export interface ContainerPipe {
  readable: ReadableStream<Uint8Array>
  writable: WritableStream<Uint8Array>
  /** The command's stderr (at most 64 KiB), once its output has ended. */
  readonly stderr: Promise<string>
  /** Drops the stream; the command sees its stdin and stdout go. */
  close(): void
}

/**
 * A runtime that can hold a binary stream both ways with a command in a container (a byte
 * relay to a port inside a worker without network). Docker can; a host agent over HTTP cannot.
 */
export interface PipingRuntime {
  pipe(id: string, req: PipeRequest): Promise<ContainerPipe>
}

/** Whether `runtime` offers `pipe`. */
export const canPipe = (runtime: ContainerRuntime): runtime is ContainerRuntime & PipingRuntime =>
  typeof (runtime as Partial<PipingRuntime>).pipe === 'function'

export interface LogLine {
  stream: 'stdout' | 'stderr'
  at: string
  text: string
}

export interface LogsRequest {
  tail?: number
  /** Unix seconds. */
  since?: number
  /** `logs` reads at most this many bytes of log (default 16 MiB), then stops: `truncated`. */
  maxBytes?: number
}

/** The answer of `logs`: whole lines, oldest first. */
export interface LogsResult {
  lines: LogLine[]
  /** Set when reading stopped at `maxBytes`: the newest of the requested lines are missing. */
  truncated?: boolean
}

/** A file to bake into an image build context besides the Dockerfile. */
export interface BuildFile {
  path: string
  content: Uint8Array | string
  mode?: number
}

/**
 * Who touches a file in a container and where it may be. With a non-root `uid` (the default,
 * 1000 = `worker`) the operation runs inside the container as that user, so the kernel's
 * permissions apply; links are resolved there too, and with `roots` a path that does not land
 * inside one of them (also resolved) is refused with a BadRequestError `path_not_allowed`
 * naming the field `path`. Anything done on a worker's behalf must use a non-root uid. Being
 * an exec, it needs the container running: a paused one is a ConflictError.
 *
 * `uid: 0` is only for files the service owns in root-owned directories the worker cannot
 * change (the state file under /etc): it goes through the Engine's archive API as root,
 * follows no link at the file itself, and takes no `roots`.
 */
export interface FileAccess {
  /** Default 1000. */
  uid?: number
  /** Default: the same as `uid`. */
  gid?: number
  /** Absolute directories the resolved path must lie inside; absent = no check. */
  roots?: readonly string[]
}

/** Options of `putFile`: `mode` defaults to 0644. */
export interface PutFileOptions extends FileAccess {
  mode?: number
}

/** Options of `getFile`. */
export interface GetFileOptions extends FileAccess {
  maxBytes?: number
}

/**
 * What `commit` does to the image's config. The image keeps the container's filesystem and
 * config (Docker copies its env and labels into the image), so everything that names or
 * authorizes the worker is overridden here; containers run from it inherit what is left.
 */
export interface CommitOptions {
  /** Labels of the image, over the container's ('' blanks one). */
  labels: Record<string, string>
  /** Env of the image, over the container's ('' blanks a variable). */
  env: Record<string, string>
  /** Secret values: any env entry whose value holds one is blanked. */
  redact?: readonly string[]
}

/** An image made by `commit`. */
export interface ImageInfo {
  tag: string
  id: string
  labels: Record<string, string>
  createdAt: string
  sizeBytes: number
}

export interface ContainerRuntime {
  /** Resolves when the engine answers; rejects with an UnavailableError naming where it looked. */
  ping(): Promise<void>
  /** Names of the OCI runtimes the engine offers (`runc`, `sysbox-runc`, …). */
  runtimes(): Promise<string[]>
  hasImage(tag: string): Promise<boolean>
  /** The image's content id (`sha256:…`), or undefined when there is no such image. */
  imageId(tag: string): Promise<string | undefined>
  /** Builds `tag` from a Dockerfile and files held in memory. */
  buildImage(
    tag: string,
    dockerfile: string,
    opts?: {
      files?: BuildFile[]
      labels?: Record<string, string>
      onProgress?: (line: string) => void
    },
  ): Promise<void>
  /** Creates and starts a container; returns its id. */
  run(spec: ContainerSpec): Promise<string>
  exec(id: string, req: ExecRequest): Promise<ExecResult>
  /**
   * Writes a file (binary-safe), replacing what is there, and creates missing parent
   * directories as `uid`. See `PutFileOptions` for who writes and where.
   */
  putFile(id: string, path: string, content: Uint8Array, opts?: PutFileOptions): Promise<void>
  /**
   * Reads a regular file. A missing path is a NotFoundError, a directory or other non-file a
   * BadRequestError, a file past `maxBytes` a PayloadTooLargeError (nothing past the cap is
   * read). See `GetFileOptions` for who reads and where.
   */
  getFile(id: string, path: string, opts?: GetFileOptions): Promise<Uint8Array>
  logs(id: string, req?: LogsRequest): Promise<LogsResult>
  /** Streams log lines until `signal` aborts or the container stops. */
  followLogs(
    id: string,
    req: LogsRequest,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void>
  pause(id: string): Promise<void>
  unpause(id: string): Promise<void>
  /** Stops and removes; absent containers are not an error. */
  remove(id: string): Promise<void>
  /** `undefined` when there is no such container. */
  inspect(id: string): Promise<ContainerInfo | undefined>
  /** Containers carrying every given label (value `undefined` = label present, any value). */
  list(labels: Record<string, string | undefined>): Promise<ContainerInfo[]>
  /**
   * Saves the container's filesystem as image `tag` (a checkpoint tag, see `CHECKPOINT_TAG`),
   * with the container paused meanwhile so the files are consistent. Memory and processes are
   * not saved. `run` starts containers from it like from any image.
   */
  commit(id: string, tag: string, opts: CommitOptions): Promise<ImageInfo>
  /** Removes a checkpoint image; an absent one is not an error. */
  removeImage(tag: string): Promise<void>
  /** A checkpoint image by its tag; undefined when there is none (or it is no checkpoint). */
  checkpointImage(tag: string): Promise<ImageInfo | undefined>
  /** Checkpoint images carrying every given label (value `undefined` = present, any value). */
  listImages(labels: Record<string, string | undefined>): Promise<ImageInfo[]>
}

/**
 * The only image names `commit` and `removeImage` take: the service names checkpoints, so a
 * runtime (or a host agent) never commits to, or removes, an image a caller chose.
 */
export const CHECKPOINT_TAG = /^workers-spawner-checkpoint:w-[a-f0-9]{16}-c-[a-f0-9]{16}$/

/** The label every checkpoint image carries: its checkpoint id. */
export const CHECKPOINT_LABEL = 'workers-spawner.checkpoint'

/** One change seen in a watched directory (see `WatchingRuntime`). */
export interface FileChange {
  /** `overflow`: changes were lost (the kernel's queue overflowed, or too many directories). */
  type: 'created' | 'changed' | 'deleted' | 'overflow'
  /** Absolute path of what changed; absent on `overflow`. */
  path?: string
  /** Whether what changed is a directory; absent on `overflow`. */
  dir?: boolean
}

/** A directory to watch inside a container (see `WatchingRuntime.watch`). */
export interface WatchRequest {
  /** Absolute directory path. */
  path: string
  /** Also every directory below it, as they appear (default true). */
  recursive?: boolean
  /** As in `FileAccess`: the resolved path must lie inside one of them. */
  roots?: readonly string[]
  /** Called with each change, in order. */
  onChange: (change: FileChange) => void
  /** Ends the watch. */
  signal: AbortSignal
}

/**
 * A runtime that can watch a directory inside a container, as the worker user. `watch`
 * resolves once `signal` aborts or the container goes away; it rejects (NotFoundError,
 * BadRequestError `path_not_allowed`, …) when the watch cannot start.
 */
export interface WatchingRuntime {
  watch(id: string, req: WatchRequest): Promise<void>
}

/** Whether `runtime` offers `watch`. */
export const canWatch = (
  runtime: ContainerRuntime,
): runtime is ContainerRuntime & WatchingRuntime =>
  typeof (runtime as Partial<WatchingRuntime>).watch === 'function'
