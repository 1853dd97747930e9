import { ConflictError, NotFoundError } from '../../src/core/errors.ts'
import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ExecRequest,
  ExecResult,
  GetFileOptions,
  LogLine,
  LogsResult,
  PutFileOptions,
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
  runtimeNames = ['runc']
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
    this.specs.set(id, spec)
    this.containers.set(id, {
      id,
      name: spec.name,
      image: spec.image,
      state: 'running',
      labels: spec.labels,
      createdAt: new Date().toISOString(),
    })
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
    this.#get(id)
    this.files.set(`${id}:${path}`, content)
    this.fileOptions.set(`${id}:${path}`, opts)
  }
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
    this.containers.delete(this.#find(id)?.id ?? id)
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
}
