import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
} from '../../src/core/errors.ts'
import {
  CHECKPOINT_TAG,
  type CommitOptions,
  type ImageInfo,
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerSpec,
  type ExecRequest,
  type FileChange,
  type ExecResult,
  type GetFileOptions,
  type LogLine,
  type LogsResult,
  type PutFileOptions,
  type WatchRequest,
} from '../../src/core/runtime.ts'

/** What a `MemoryRuntime` exec does: by default it echoes its argv to stdout. */
export type FakeExec = (id: string, req: ExecRequest) => Promise<ExecResult>

/**
 * A `ContainerRuntime` held in memory, for tests that need containers but not Docker: run,
 * inspect, list, pause, files and images behave like the engine's; `exec` is `onExec`.
 */
export class MemoryRuntime implements ContainerRuntime {
  readonly containers = new Map<string, ContainerInfo>()
  readonly files = new Map<string, Uint8Array>()
  /** The options of the last `putFile` or `getFile` of each `id:path`, for tests to check. */
  readonly fileOptions = new Map<string, PutFileOptions | GetFileOptions>()
  readonly images = new Map<string, string>()
  readonly specs = new Map<string, ContainerSpec>()
  readonly builds: string[] = []
  /** Committed images: their config and the files they hold (as a container's, by path). */
  readonly committed = new Map<
    string,
    { info: ImageInfo; env: Record<string, string>; files: Map<string, Uint8Array> }
  >()
  runtimeNames = ['runc']
  /** Watches running now, by container id (see `watch`). */
  readonly watchers = new Map<string, Set<WatchRequest>>()
  onExec: FakeExec = async (id, req) => {
    // `test -e PATH` answers from the files, as in a container (the service probes with it).
    const [cmd, flag, path] = req.argv
    if (cmd === 'test' && flag === '-e' && req.argv.length === 3) {
      const exitCode = this.files.has(`${this.#find(id)?.id ?? id}:${path}`) ? 0 : 1
      return { exitCode, stdout: '', stderr: '', timedOut: false, durationMs: 1 }
    }
    const stdout = `${req.argv.join(' ')}\n`
    req.onOutput?.('stdout', stdout)
    return { exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 }
  }

  async ping() {}
  async runtimes() {
    return this.runtimeNames
  }
  async hasImage(tag: string) {
    return this.images.has(tag)
  }
  async imageId(tag: string) {
    return this.images.get(tag)
  }
  async buildImage(
    tag: string,
    _dockerfile: string,
    opts?: { onProgress?: (line: string) => void },
  ) {
    opts?.onProgress?.(`building ${tag}`)
    this.builds.push(tag)
    this.images.set(tag, `sha256:${tag}`)
  }
  async run(spec: ContainerSpec) {
    if ([...this.containers.values()].some((c) => c.name === spec.name)) {
      throw new ConflictError(`Conflict. The container name "/${spec.name}" is already in use`)
    }
    const id = [...crypto.getRandomValues(new Uint8Array(32))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
    // As in Docker, a container inherits the env and labels of a committed image it runs from.
    const from = this.committed.get(spec.image)
    const run = from
      ? {
          ...spec,
          env: { ...from.env, ...spec.env },
          labels: { ...from.info.labels, ...spec.labels },
        }
      : spec
    this.specs.set(id, run)
    this.containers.set(id, {
      id,
      name: spec.name,
      image: spec.image,
      state: 'running',
      labels: run.labels,
      createdAt: new Date().toISOString(),
    })
    for (const [path, bytes] of from?.files ?? []) this.files.set(`${id}:${path}`, bytes)
    // What every image has (the service reads it to tell a missing file from an unreadable one).
    this.files.set(`${id}:/etc/passwd`, new TextEncoder().encode('root:x:0:0:root:/root:/bin/sh\n'))
    return id
  }
  async exec(id: string, req: ExecRequest) {
    const c = this.#get(id)
    if (c.state === 'paused') throw new ConflictError(`Container ${id} is paused`)
    return this.onExec(id, req)
  }
  async putFile(id: string, path: string, content: Uint8Array, opts: PutFileOptions = {}) {
    const c = this.#get(id)
    const existed = this.files.has(`${id}:${path}`)
    this.files.set(`${id}:${path}`, content)
    this.fileOptions.set(`${id}:${path}`, opts)
    this.change(c.id, { type: existed ? 'changed' : 'created', path, dir: false })
  }
  /**
   * Watches as `WatchingRuntime` does: refuses a path outside `roots` or missing container,
   * then gets `change`s (and file writes) below `path` until aborted or the container goes.
   */
  async watch(id: string, req: WatchRequest) {
    const c = this.#get(id)
    if (req.roots && !req.roots.some((r) => req.path === r || req.path.startsWith(`${r}/`))) {
      throw new BadRequestError(`path: ${req.path} is outside the roots`, [], 'path_not_allowed')
    }
    const mine = this.watchers.get(c.id) ?? new Set()
    this.watchers.set(c.id, mine)
    mine.add(req)
    try {
      await new Promise<void>((resolve) => {
        if (req.signal.aborted) resolve()
        req.signal.addEventListener('abort', () => resolve(), { once: true })
        this.#gone.set(req, resolve)
      })
    } finally {
      mine.delete(req)
      this.#gone.delete(req)
    }
  }
  /** Tells the watches of container `id` whose directory holds the path about a change. */
  change(id: string, change: FileChange) {
    for (const w of this.watchers.get(id) ?? []) {
      const under = change.path === undefined || change.path.startsWith(`${w.path}/`)
      if (under) w.onChange(change)
    }
  }
  readonly #gone = new Map<WatchRequest, () => void>()
  async getFile(id: string, path: string, opts: GetFileOptions = {}) {
    this.#get(id)
    this.fileOptions.set(`${id}:${path}`, opts)
    const bytes = this.files.get(`${id}:${path}`)
    if (!bytes) throw new NotFoundError(`no such file: ${path}`)
    return bytes
  }
  async logs(id: string): Promise<LogsResult> {
    this.#get(id)
    return { lines: [{ stream: 'stdout', at: new Date(0).toISOString(), text: 'ready' }] }
  }
  async followLogs(
    id: string,
    _req: unknown,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ) {
    for (const line of (await this.logs(id)).lines) onLine(line)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
  }
  async pause(id: string) {
    this.#get(id).state = 'paused'
  }
  async unpause(id: string) {
    this.#get(id).state = 'running'
  }
  async remove(id: string) {
    const key = this.#find(id)?.id ?? id
    this.containers.delete(key)
    for (const w of this.watchers.get(key) ?? []) this.#gone.get(w)?.()
    this.watchers.delete(key)
  }
  async inspect(id: string) {
    const c = this.#find(id)
    return c && { ...c }
  }
  async list(labels: Record<string, string | undefined>) {
    return [...this.containers.values()]
      .filter((c) =>
        Object.entries(labels).every(([k, v]) =>
          v === undefined ? k in c.labels : c.labels[k] === v,
        ),
      )
      .map((c) => ({ ...c }))
  }

  #find(id: string) {
    return [...this.containers.values()].find((c) => c.id === id || c.name === id)
  }
  #get(id: string) {
    const c = this.#find(id)
    if (!c) throw new NotFoundError(`No such container: ${id}`)
    return c
  }

  async commit(id: string, tag: string, opts: CommitOptions) {
    if (!CHECKPOINT_TAG.test(tag)) throw new BadRequestError(`'${tag}' is not a checkpoint name`)
    const c = this.#get(id)
    const spec = this.specs.get(c.id)!
    const env = Object.fromEntries(
      Object.entries(spec.env).map(([k, v]) => [
        k,
        (opts.redact ?? []).some((s) => s !== '' && v.includes(s)) ? '' : v,
      ]),
    )
    const files = new Map<string, Uint8Array>()
    for (const [key, bytes] of this.files) {
      if (key.startsWith(`${c.id}:`)) files.set(key.slice(c.id.length + 1), bytes)
    }
    const info: ImageInfo = {
      tag,
      id: `sha256:${tag}`,
      labels: { ...c.labels, ...opts.labels },
      createdAt: new Date().toISOString(),
      sizeBytes: files.size,
    }
    this.committed.set(tag, { info, env: { ...env, ...opts.env }, files })
    this.images.set(tag, info.id)
    return { ...info }
  }
  async removeImage(tag: string) {
    if (!this.committed.has(tag)) return
    if ([...this.containers.values()].some((c) => c.image === tag)) {
      throw new ConflictError(`image ${tag} is in use`, 'checkpoint_in_use')
    }
    this.committed.delete(tag)
    this.images.delete(tag)
  }
  async checkpointImage(tag: string) {
    const found = this.committed.get(tag)
    return found && { ...found.info }
  }
  async listImages(labels: Record<string, string | undefined>) {
    return [...this.committed.values()]
      .map((i) => i.info)
      .filter((i) =>
        Object.entries(labels).every(([k, v]) =>
          v === undefined ? k in i.labels : i.labels[k] === v,
        ),
      )
      .map((i) => ({ ...i }))
  }
}

/**
 * A `MemoryRuntime` that keeps each container's state on its "host" (`StateKeepingRuntime`),
 * in `states` by container id, as Docker with the daemons does; the state goes with the
 * container. Nothing of it is in the container's files.
 */
export class StateKeepingMemoryRuntime extends MemoryRuntime {
  readonly states = new Map<string, Uint8Array>()
  /** How many `getState` calls were made, for tests to check the host was asked. */
  stateReads = 0

  async putState(id: string, bytes: Uint8Array) {
    const c = await this.inspect(id)
    if (!c) throw new NotFoundError(`No such container: ${id}`)
    this.states.set(c.id, bytes)
  }
  async getState(id: string, maxBytes: number) {
    this.stateReads++
    const c = await this.inspect(id)
    if (!c) throw new NotFoundError(`No such container: ${id}`)
    const bytes = this.states.get(c.id)
    if (bytes && bytes.length > maxBytes) throw new PayloadTooLargeError(`state over ${maxBytes}`)
    return bytes
  }
  override async remove(id: string) {
    const c = await this.inspect(id)
    await super.remove(id)
    if (c) this.states.delete(c.id)
  }
}
