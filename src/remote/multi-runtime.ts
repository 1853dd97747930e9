import { BadRequestError, NotFoundError, UnavailableError } from '../core/errors.ts'
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
  WatchRequest,
} from '../core/runtime.ts'
import type { HostCapacity } from './wire.ts'
import { placementOrder } from './placement.ts'
import type { RemoteRuntime } from './remote-runtime.ts'

/** Label naming the host agent a container was placed on. */
export const HOST_LABEL = 'workers-spawner.host'

/** What each agent answered to one fanned-out call. */
interface FanOut<T> {
  ok: { agent: RemoteRuntime; value: T }[]
  failed: { agent: RemoteRuntime; error: unknown }[]
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err))

/**
 * `ContainerRuntime` over several host agents. `run` places a container on the agent with
 * the most room for it (see `placementOrder`) and labels it `workers-spawner.host=<agent>`;
 * every later call on that container goes to the agent holding it, found by asking them all
 * when this process has not seen it yet, so placement survives a restart of the core.
 * Images are per host: `hasImage` is true when every reachable agent has the image, and
 * `buildImage` builds it on those that lack it.
 *
 * @example
 * const runtime = new MultiRuntime([
 *   new RemoteRuntime({ name: 'a', url: 'http://docker-a:8081', token }),
 *   new RemoteRuntime({ name: 'b', url: 'http://docker-b:8081', token }),
 * ])
 */
export class MultiRuntime implements ContainerRuntime {
  readonly agents: readonly RemoteRuntime[]
  readonly #owners = new Map<string, RemoteRuntime>()
  readonly #logger: Logger

  constructor(agents: RemoteRuntime[], opts: { logger?: Logger } = {}) {
    if (agents.length === 0) throw new Error('MultiRuntime needs at least one host agent')
    const names = agents.map((a) => a.name)
    const twice = names.find((n, i) => names.indexOf(n) !== i)
    if (twice) throw new Error(`two host agents are named '${twice}': names must differ`)
    this.agents = agents
    this.#logger = opts.logger ?? noopLogger
  }

  async ping(): Promise<void> {
    await this.#someAnswer((a) => a.ping())
  }

  async runtimes(): Promise<string[]> {
    const all = await this.#someAnswer((a) => a.runtimes())
    return [...new Set(all.flat())]
  }

  /**
   * The image's id; when the hosts hold different builds of it, their ids joined, so what is
   * derived from it (see ImageResolver) changes whenever any host's copy does.
   */
  async imageId(tag: string): Promise<string | undefined> {
    const ids = (await this.#someAnswer((a) => a.imageId(tag))).filter((id) => id !== undefined)
    const unique = [...new Set(ids)].sort()
    return unique.length > 0 ? unique.join(',') : undefined
  }

  async hasImage(tag: string): Promise<boolean> {
    return (await this.#someAnswer((a) => a.hasImage(tag))).every(Boolean)
  }

  /** Builds on every reachable agent that lacks `tag`; succeeds when at least one has it. */
  async buildImage(
    tag: string,
    dockerfile: string,
    opts: {
      files?: BuildFile[]
      labels?: Record<string, string>
      onProgress?: (line: string) => void
    } = {},
  ): Promise<void> {
    const present = await this.#fanOut((a) => a.hasImage(tag))
    if (present.ok.length === 0) throw this.#noneAnswered(present)
    const lacking = present.ok.filter((p) => !p.value).map((p) => p.agent)
    const built = await this.#fanOut(
      (agent) =>
        agent.buildImage(tag, dockerfile, {
          ...opts,
          onProgress: (line) => opts.onProgress?.(`[${agent.name}] ${line}`),
        }),
      lacking,
    )
    for (const { agent, error } of built.failed) {
      this.#logger.warn('image build failed on a host', {
        agent: agent.name,
        tag,
        reason: reason(error),
      })
    }
    if (built.ok.length === 0 && lacking.length === present.ok.length) throw built.failed[0]!.error
  }

  /** Places the container on the best host for it (see `placementOrder`). */
  async run(spec: ContainerSpec): Promise<string> {
    const reports = await this.#fanOut((a) => a.capacity(spec.image))
    if (reports.ok.length === 0) throw this.#noneAnswered(reports)
    const byName = new Map(reports.ok.map((r) => [r.agent.name, r.agent]))
    const hosts: HostCapacity[] = reports.ok.map((r) => ({ ...r.value, name: r.agent.name }))
    const [best] = placementOrder(spec, hosts)
    if (!best) {
      throw new BadRequestError(
        `no reachable host agent offers the container runtime '${spec.runtime}'`,
        undefined,
        'runtime_unavailable',
      )
    }
    const agent = byName.get(best.name)!
    const id = await agent.run({ ...spec, labels: { ...spec.labels, [HOST_LABEL]: agent.name } })
    this.#owners.set(id, agent)
    this.#logger.debug('container placed', { containerId: id, agent: agent.name })
    return id
  }

  exec(id: string, req: ExecRequest): Promise<ExecResult> {
    return this.#on(id, (a) => a.exec(id, req))
  }

  putFile(id: string, path: string, content: Uint8Array, opts?: PutFileOptions) {
    return this.#on(id, (a) => a.putFile(id, path, content, opts))
  }

  getFile(id: string, path: string, opts?: GetFileOptions): Promise<Uint8Array> {
    return this.#on(id, (a) => a.getFile(id, path, opts))
  }

  logs(id: string, req?: LogsRequest): Promise<LogsResult> {
    return this.#on(id, (a) => a.logs(id, req))
  }

  followLogs(id: string, req: LogsRequest, onLine: (line: LogLine) => void, signal: AbortSignal) {
    return this.#on(id, (a) => a.followLogs(id, req, onLine, signal))
  }

  /** Watches on the agent that holds the container (see `RemoteRuntime.watch`). */
  watch(id: string, req: WatchRequest): Promise<void> {
    return this.#on(id, (a) => a.watch(id, req))
  }

  pause(id: string): Promise<void> {
    return this.#on(id, (a) => a.pause(id))
  }

  unpause(id: string): Promise<void> {
    return this.#on(id, (a) => a.unpause(id))
  }

  async remove(id: string): Promise<void> {
    const agent = await this.#owner(id)
    if (!agent) return
    await agent.remove(id)
    this.#forget(id)
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const agent = await this.#owner(id)
    const info = await agent?.inspect(id)
    if (!info) this.#forget(id)
    return info
  }

  /**
   * Containers of every agent. An unreachable agent is left out (and logged) so that one host
   * down does not stop the others; with none reachable it is an UnavailableError.
   */
  async list(labels: Record<string, string | undefined>): Promise<ContainerInfo[]> {
    const answers = await this.#fanOut((a) => a.list(labels))
    if (answers.ok.length === 0) throw this.#noneAnswered(answers)
    for (const { agent, error } of answers.failed) {
      this.#logger.warn('host agent left out of a list', {
        agent: agent.name,
        reason: reason(error),
      })
    }
    return answers.ok.flatMap(({ agent, value }) => {
      for (const info of value) this.#owners.set(info.id, agent)
      return value
    })
  }

  /** A checkpoint is made on the container's host; forks from it are placed there first. */
  commit(id: string, tag: string, opts: CommitOptions): Promise<ImageInfo> {
    return this.#on(id, (a) => a.commit(id, tag, opts))
  }

  /** Removes the checkpoint image from every reachable host that has it. */
  async removeImage(tag: string): Promise<void> {
    const answers = await this.#fanOut((a) => a.removeImage(tag))
    if (answers.ok.length === 0) throw this.#noneAnswered(answers)
    const refused = answers.failed.find((f) => !(f.error instanceof UnavailableError))
    if (refused) throw refused.error
  }

  async checkpointImage(tag: string): Promise<ImageInfo | undefined> {
    return (await this.#someAnswer((a) => a.checkpointImage(tag))).find((i) => i !== undefined)
  }

  async listImages(labels: Record<string, string | undefined>): Promise<ImageInfo[]> {
    return (await this.#someAnswer((a) => a.listImages(labels))).flat()
  }

  /** Runs `fn` on the agent holding container `id`. */
  async #on<T>(id: string, fn: (agent: RemoteRuntime) => Promise<T>): Promise<T> {
    const agent = await this.#owner(id)
    if (!agent) throw new NotFoundError(`No such container: ${id}`)
    try {
      return await fn(agent)
    } catch (err) {
      if (err instanceof NotFoundError && /no such container/i.test(err.message)) this.#forget(id)
      throw err
    }
  }

  /**
   * The agent holding container `id` (by id or name): remembered, else asked of every agent.
   * Undefined when every agent answered that it has no such container; an UnavailableError
   * when it is not on any agent that answered and some did not.
   */
  async #owner(id: string): Promise<RemoteRuntime | undefined> {
    const known = this.#owners.get(id)
    if (known) return known
    const answers = await this.#fanOut((a) => a.inspect(id))
    const found = answers.ok.find((a) => a.value !== undefined)
    if (found) {
      this.#owners.set(id, found.agent)
      this.#owners.set(found.value!.id, found.agent)
      return found.agent
    }
    if (answers.failed.length > 0) {
      const away = answers.failed.map((f) => `${f.agent.name} (${reason(f.error)})`).join('; ')
      throw new UnavailableError(
        `container ${id} is on no reachable host agent; unreachable: ${away}`,
      )
    }
    return undefined
  }

  // An alias (name, short id) may stay: containers never move, so it still points right.
  #forget(id: string): void {
    this.#owners.delete(id)
  }

  async #fanOut<T>(
    fn: (agent: RemoteRuntime) => Promise<T>,
    agents = this.agents,
  ): Promise<FanOut<T>> {
    const settled = await Promise.allSettled(agents.map(fn))
    const out: FanOut<T> = { ok: [], failed: [] }
    settled.forEach((s, i) => {
      const agent = agents[i]!
      if (s.status === 'fulfilled') out.ok.push({ agent, value: s.value })
      else out.failed.push({ agent, error: s.reason })
    })
    return out
  }

  /** The answers of the agents that answered; an UnavailableError when none did. */
  async #someAnswer<T>(fn: (agent: RemoteRuntime) => Promise<T>): Promise<T[]> {
    const answers = await this.#fanOut(fn)
    if (answers.ok.length === 0) throw this.#noneAnswered(answers)
    return answers.ok.map((a) => a.value)
  }

  #noneAnswered(answers: FanOut<unknown>): Error {
    const first = answers.failed[0]?.error
    // One agent, or all failing alike (a bad request): their own error says it best.
    if (answers.failed.length === 1 || !(first instanceof UnavailableError)) return first as Error
    const all = answers.failed.map((f) => `${f.agent.name}: ${reason(f.error)}`).join('; ')
    return new UnavailableError(`no host agent answers (${all})`)
  }
}
