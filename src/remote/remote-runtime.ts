import { bytesToBase64, utf8Encode } from '../core/bytes.ts'
import { BadRequestError, NotFoundError, UnavailableError } from '../core/errors.ts'
import type {
  BuildFile,
  CommitOptions,
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  ExecRequest,
  ExecResult,
  FileAccess,
  GetFileOptions,
  ImageInfo,
  LogLine,
  LogsRequest,
  LogsResult,
  PutFileOptions,
  WatchRequest,
} from '../core/runtime.ts'
import {
  NO_SUCH_CONTAINER,
  type BuildBody,
  type CommitBody,
  type HostCapacity,
  type WatchBody,
} from './wire.ts'
import { AgentClient, type AgentClientOptions } from './agent-client.ts'
import { remoteExec } from './remote-exec.ts'

export type { AgentClientOptions as RemoteRuntimeOptions }

const json = <T>(res: Response): Promise<T> => res.json() as Promise<T>
const none = async (): Promise<void> => undefined
const containerPath = (id: string, rest = '') => `/v1/containers/${encodeURIComponent(id)}${rest}`

/**
 * The `FileAccess` part of a files query; `roots` repeats (`roots=/a&roots=/b`). An empty
 * list would read as no list at all, so it is refused here as DockerRuntime refuses it.
 */
const accessQuery = (opts: FileAccess) => {
  if (opts.roots?.length === 0) {
    throw new BadRequestError('roots: absolute directories, at least one')
  }
  return {
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    ...(opts.roots !== undefined ? { roots: [...opts.roots] } : {}),
  }
}

const logsQuery = (req: LogsRequest = {}) => ({
  ...(req.tail !== undefined ? { tail: req.tail } : {}),
  ...(req.since !== undefined ? { since: req.since } : {}),
  ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}),
})

/**
 * `ContainerRuntime` over a host agent's HTTP API (`npm run host-agent` next to Docker), with
 * `fetch` only: no Node.js API, so a core in a serverless runtime can use it. Errors come back
 * as the classes `DockerRuntime` throws; an unreachable agent is an UnavailableError (503).
 *
 * @example
 * const runtime = new RemoteRuntime({ url: 'http://docker-1:8081', token: HOST_AGENT_TOKEN })
 * const id = await runtime.run(spec)
 * const { stdout } = await runtime.exec(id, { argv: ['ls'], onOutput: (s, chunk) => log(chunk) })
 */
export class RemoteRuntime implements ContainerRuntime {
  readonly #agent: AgentClient

  constructor(opts: AgentClientOptions) {
    this.#agent = new AgentClient(opts)
  }

  /** The agent's name (option `name`, else its URL's host). */
  get name(): string {
    return this.#agent.name
  }

  get url(): string {
    return this.#agent.url
  }

  async ping(): Promise<void> {
    await this.#agent.call('GET', '/v1/ping', { idempotent: true }, none)
  }

  async runtimes(): Promise<string[]> {
    const body = await this.#agent.call(
      'GET',
      '/v1/runtimes',
      { idempotent: true },
      json<{ runtimes: string[] }>,
    )
    return body.runtimes
  }

  async hasImage(tag: string): Promise<boolean> {
    return (await this.imageId(tag)) !== undefined
  }

  async imageId(tag: string): Promise<string | undefined> {
    const query = { tag }
    const body = await this.#agent.call(
      'GET',
      '/v1/images',
      { query, idempotent: true },
      json<{ id: string | null }>,
    )
    return body.id ?? undefined
  }

  /** What the host has and has reserved, and whether it holds `image` (for placement). */
  capacity(image?: string): Promise<HostCapacity> {
    const query = image ? { image } : {}
    return this.#agent.call('GET', '/v1/capacity', { query, idempotent: true }, json<HostCapacity>)
  }

  async buildImage(
    tag: string,
    dockerfile: string,
    opts: {
      files?: BuildFile[]
      labels?: Record<string, string>
      onProgress?: (line: string) => void
    } = {},
  ): Promise<void> {
    const body: BuildBody = {
      tag,
      dockerfile,
      files: (opts.files ?? []).map((f) => ({
        path: f.path,
        content: bytesToBase64(typeof f.content === 'string' ? utf8Encode(f.content) : f.content),
        ...(f.mode !== undefined ? { mode: f.mode } : {}),
      })),
      ...(opts.labels ? { labels: opts.labels } : {}),
    }
    const res = await this.#agent.send('POST', '/v1/images', { json: body })
    for await (const line of this.#agent.lines(res)) {
      if ('progress' in line) {
        try {
          opts.onProgress?.(line.progress)
        } catch {
          // A caller's progress handler must not break the build.
        }
      } else if ('error' in line) {
        throw this.#agent.errorOf(line)
      } else if ('result' in line) {
        return
      }
    }
    throw this.#noResult('build')
  }

  async run(spec: ContainerSpec): Promise<string> {
    const body = await this.#agent.call(
      'POST',
      '/v1/containers',
      { json: spec },
      json<{ id: string }>,
    )
    return body.id
  }

  exec(id: string, req: ExecRequest): Promise<ExecResult> {
    return remoteExec(this.#agent, id, req)
  }

  async putFile(
    id: string,
    path: string,
    content: Uint8Array,
    opts: PutFileOptions = {},
  ): Promise<void> {
    const query = {
      path,
      ...(opts.mode !== undefined ? { mode: opts.mode.toString(8) } : {}),
      ...accessQuery(opts),
    }
    const req = { query, body: content, idempotent: true }
    await this.#agent.call('PUT', containerPath(id, '/files'), req, none)
  }

  async getFile(id: string, path: string, opts: GetFileOptions = {}): Promise<Uint8Array> {
    const query = {
      path,
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
      ...accessQuery(opts),
    }
    return this.#agent.call(
      'GET',
      containerPath(id, '/files'),
      { query, idempotent: true },
      async (res) => new Uint8Array(await res.arrayBuffer()),
    )
  }

  async logs(id: string, req?: LogsRequest): Promise<LogsResult> {
    const query = logsQuery(req)
    return this.#agent.call(
      'GET',
      containerPath(id, '/logs'),
      { query, idempotent: true },
      json<LogsResult>,
    )
  }

  /** Streams log lines until `signal` aborts (then resolves) or the container stops. */
  async followLogs(
    id: string,
    req: LogsRequest,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return
    const query = { ...logsQuery(req), follow: '1' }
    try {
      const res = await this.#agent.send('GET', containerPath(id, '/logs'), { query, signal })
      for await (const line of this.#agent.lines(res)) {
        if ('line' in line) onLine(line.line)
        else if ('error' in line) throw this.#agent.errorOf(line)
        else if ('result' in line) return
      }
    } catch (err) {
      if (signal.aborted) return
      throw err
    }
    if (!signal.aborted) throw this.#noResult('log stream')
  }

  /**
   * Watches a directory through the host agent's runtime (see `WatchingRuntime`): resolves when
   * `signal` aborts (the connection is dropped, which ends the watch there) or the container goes.
   */
  async watch(id: string, req: WatchRequest): Promise<void> {
    const { signal } = req
    if (signal.aborted) return
    const body: WatchBody = {
      path: req.path,
      ...(req.recursive !== undefined ? { recursive: req.recursive } : {}),
      ...(req.roots ? { roots: [...req.roots] } : {}),
    }
    try {
      const res = await this.#agent.send('POST', containerPath(id, '/watch'), {
        json: body,
        signal,
      })
      for await (const line of this.#agent.lines(res)) {
        if ('change' in line) req.onChange(line.change)
        else if ('error' in line) throw this.#agent.errorOf(line)
        else if ('result' in line) return
      }
    } catch (err) {
      if (signal.aborted) return
      throw err
    }
    if (!signal.aborted) throw this.#noResult('watch')
  }

  async pause(id: string): Promise<void> {
    await this.#agent.call('POST', containerPath(id, '/pause'), { idempotent: true }, none)
  }

  async unpause(id: string): Promise<void> {
    await this.#agent.call('POST', containerPath(id, '/unpause'), { idempotent: true }, none)
  }

  async remove(id: string): Promise<void> {
    await this.#agent.call('DELETE', containerPath(id), { idempotent: true }, none)
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    try {
      return await this.#agent.call(
        'GET',
        containerPath(id),
        { idempotent: true },
        json<ContainerInfo>,
      )
    } catch (err) {
      if (err instanceof NotFoundError && err.code === NO_SUCH_CONTAINER) return undefined
      throw err
    }
  }

  async list(labels: Record<string, string | undefined>): Promise<ContainerInfo[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === undefined ? k : `${k}=${v}`))
    const req = { query: { label }, idempotent: true }
    const body = await this.#agent.call(
      'GET',
      '/v1/containers',
      req,
      json<{ containers: ContainerInfo[] }>,
    )
    return body.containers
  }

  async commit(id: string, tag: string, opts: CommitOptions): Promise<ImageInfo> {
    const body: CommitBody = {
      tag,
      labels: opts.labels,
      env: opts.env,
      ...(opts.redact ? { redact: [...opts.redact] } : {}),
    }
    return this.#agent.call('POST', containerPath(id, '/commit'), { json: body }, json<ImageInfo>)
  }

  async removeImage(tag: string): Promise<void> {
    const path = `/v1/checkpoints/${encodeURIComponent(tag)}`
    await this.#agent.call('DELETE', path, { idempotent: true }, none)
  }

  async checkpointImage(tag: string): Promise<ImageInfo | undefined> {
    const path = `/v1/checkpoints/${encodeURIComponent(tag)}`
    const body = await this.#agent.call(
      'GET',
      path,
      { idempotent: true },
      json<{ image: ImageInfo | null }>,
    )
    return body.image ?? undefined
  }

  async listImages(labels: Record<string, string | undefined>): Promise<ImageInfo[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === undefined ? k : `${k}=${v}`))
    const req = { query: { label }, idempotent: true }
    const body = await this.#agent.call(
      'GET',
      '/v1/checkpoints',
      req,
      json<{ images: ImageInfo[] }>,
    )
    return body.images
  }

  /** A stream that ended without its last line: the agent went away mid-answer. */
  #noResult(what: string): UnavailableError {
    return new UnavailableError(`host agent ${this.name} ended the ${what} without a result`)
  }
}
