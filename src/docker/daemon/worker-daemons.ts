import { createHash, createHmac, randomBytes } from 'node:crypto'
import { chmod, link, lstat, mkdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { noopLogger, type Logger } from '../../core/logger.ts'
import {
  ContainerDaemon,
  DAEMON_SOCKET,
  DEFAULT_LISTENER_LIMITS,
  type ListenerLimits,
} from './container-daemon.ts'

/** Where the daemon directories live when WORKER_DAEMON_DIR is unset. */
export const defaultDaemonDir = (): string => join(homedir(), '.workers-spawner', 'daemons')

/** A host agent's daemon directory when HOST_AGENT_WORKER_DAEMON_DIR is unset. */
export const defaultAgentDaemonDir = (agent: string): string =>
  join(homedir(), '.workers-spawner', 'agent-daemons', agent)

/** Longest Unix socket path Linux takes (`sun_path` is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107
const KEY_FILE = 'key'
const KEY_BYTES = 32

/** Operations that took the daemon and operations that fell back to the Engine. */
export interface DaemonStats {
  daemon: number
  fallback: number
}

/** A setting the daemons cannot start with; its message is for the operator. */
export class DaemonDirError extends Error {
  constructor(message: string) {
    super(message)
    this.name = this.constructor.name
  }
}

/**
 * The runtime's side of every worker's daemon on this host (see docs/daemon-protocol.md): the
 * base directory (0700, ours), its key, and one `ContainerDaemon` per container, listening on
 * `<dir>/<16 hex>/d.sock`. Several instances sharing a host and a directory agree on the key.
 *
 * @example
 * const daemons = await WorkerDaemons.open({ dir: defaultDaemonDir(), logger })
 * const runtime = new DockerRuntime({ docker, daemons })
 */
export class WorkerDaemons {
  readonly #key: Buffer
  readonly #containers = new Map<string, Promise<ContainerDaemon | undefined>>()
  readonly #counts: DaemonStats = { daemon: 0, fallback: 0 }

  private constructor(
    readonly dir: string,
    key: Buffer,
    readonly logger: Logger,
    readonly limits: ListenerLimits,
  ) {
    this.#key = key
  }

  /**
   * Checks (or makes) the base directory and its key. Throws DaemonDirError naming the problem
   * when the directory is open to others, not ours, or too deep for a socket path.
   */
  static async open(opts: {
    dir?: string
    logger?: Logger
    limits?: Partial<ListenerLimits>
  }): Promise<WorkerDaemons> {
    const dir = opts.dir ?? defaultDaemonDir()
    const longest = join(dir, '0123456789abcdef', DAEMON_SOCKET)
    if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
      throw new DaemonDirError(
        `${dir}: too long for the daemons' socket paths (${MAX_SOCKET_PATH} bytes at most); choose a shorter WORKER_DAEMON_DIR`,
      )
    }
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const st = await stat(dir)
    if (!st.isDirectory()) throw new DaemonDirError(`${dir} is not a directory`)
    if (st.uid !== process.getuid?.()) {
      throw new DaemonDirError(`${dir} is not owned by this user (uid ${process.getuid?.()})`)
    }
    if (st.mode & 0o022) {
      throw new DaemonDirError(
        `${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)}): it holds the key of every worker's daemon; make it 0700`,
      )
    }
    if (st.mode & 0o077) await chmod(dir, 0o700)
    const key = await readKey(dir)
    return new WorkerDaemons(dir, key, opts.logger ?? noopLogger, {
      ...DEFAULT_LISTENER_LIMITS,
      ...opts.limits,
    })
  }

  /** The secret of container `name`'s daemon (hex HMAC-SHA256 of the key). */
  secretOf(name: string): string {
    return createHmac('sha256', this.#key).update(`spawnerd:v1:${name}`).digest('hex')
  }

  /** The host directory of container `name`. */
  dirOf(name: string): string {
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 16)
    return join(this.dir, hash)
  }

  /**
   * Container `name`'s daemon end, listening (made at the first call). Undefined when another
   * process on this host serves its socket.
   */
  listen(name: string): Promise<ContainerDaemon | undefined> {
    const known = this.#containers.get(name)
    if (known) return known
    const daemon = new ContainerDaemon(
      name,
      this.dirOf(name),
      this.secretOf(name),
      this.logger,
      this.limits,
    )
    const made = daemon.listen().then(
      (ok) => (ok ? daemon : undefined),
      async (err: unknown) => {
        this.#containers.delete(name)
        await daemon.close()
        throw err
      },
    )
    this.#containers.set(name, made)
    return made
  }

  /** Container `name`'s daemon end when it is listening already. */
  async get(name: string): Promise<ContainerDaemon | undefined> {
    return this.#containers.get(name)?.catch(() => undefined)
  }

  /** Stops listening for container `name` and removes its directory (the container is gone). */
  async remove(name: string): Promise<void> {
    const known = this.#containers.get(name)
    this.#containers.delete(name)
    const daemon = await known?.catch(() => undefined)
    await daemon?.close()
    await rm(this.dirOf(name), { recursive: true, force: true })
  }

  /** Forgets container `name` without touching its directory (another process serves it). */
  forget(name: string): void {
    this.#containers.delete(name)
  }

  /** Counts one operation by the path it took. */
  count(path: keyof DaemonStats): void {
    this.#counts[path]++
  }

  /** Counts an operation the daemon took as fallen back after all (the Engine redid it). */
  recount(): void {
    this.#counts.daemon--
    this.#counts.fallback++
  }

  /** How many operations took the daemon and how many fell back. */
  stats(): DaemonStats {
    return { ...this.#counts }
  }

  /** Stops every listener; the directories stay for containers that outlive this process. */
  async close(): Promise<void> {
    const all = [...this.#containers.values()]
    this.#containers.clear()
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()))
  }
}

/**
 * The key in `<dir>/key`, made when missing: written to a temporary file, then linked into
 * place, so that of several instances starting at once one key wins and all read it.
 */
const readKey = async (dir: string): Promise<Buffer> => {
  const path = join(dir, KEY_FILE)
  if (!(await lstat(path).catch(() => undefined))) {
    const tmp = join(dir, `.key-${randomBytes(8).toString('hex')}`)
    await writeFile(tmp, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' })
    try {
      await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err
      })
    } finally {
      await unlink(tmp).catch(() => undefined)
    }
  }
  const st = await lstat(path)
  if (!st.isFile() || st.uid !== process.getuid?.() || st.mode & 0o077 || st.size !== KEY_BYTES) {
    throw new DaemonDirError(
      `${path} must be a ${KEY_BYTES}-byte file of this user with mode 0600; remove it to have a new one made`,
    )
  }
  return readFile(path)
}
