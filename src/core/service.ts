import type { z } from 'zod'
import { workerConfigSchema, type WorkerConfig } from './config.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, SpawnerError } from './errors.ts'
import type { TokenSigner } from './auth/jwt.ts'
import { Mac } from './auth/mac.ts'
import { assertChildMounts, childrenOf, isWithin, narrowChild } from './sub-workers.ts'
import { DEFAULT_POLICY, type WorkerPolicy } from './policy.ts'
import { orchestratorEnv, writeToken } from './worker-tokens.ts'
import { ImageResolver } from './images.ts'
import type { Logger } from './logger.ts'
import { noopLogger } from './logger.ts'
import { EXTRA_FILE_ROOTS, configFilePath, resolveFilePath } from './paths.ts'
import type { AgentPlugin, Plugin } from './plugin/contract.ts'
import { agentPrompt, agentReply } from './plugin/hooks.ts'
import type { PluginRegistry } from './plugin/registry.ts'
import { resolvePlugins, type ResolvedPlugins } from './resolve.ts'
import type { ContainerInfo, ContainerRuntime, ContainerSpec, ExecRequest, LogLine, PutFileOptions } from './runtime.ts'
import { readWorkerState, StateFileError, writeWorkerState, type WorkerStateFile } from './worker-state.ts'
import type { WarmPools } from './pool.ts'
import type * as S from './schemas.ts'
import { assertSecrets, buildContainerSpec, pluginContext, pluginFiles } from './spec.ts'
import { LABELS } from './labels.ts'
import { base64ToBytes, bytesToBase64, utf8Decode, utf8Encode } from './bytes.ts'
import { addUsage, recordFromContainer, stateFromContainer, toStatus, type WorkerRecord } from './worker-record.ts'
import { parseInput } from './validation.ts'
import { assertStartable } from './startable.ts'
import { EventBus, type SpawnerEvent } from './events.ts'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
type In<T extends z.ZodType> = z.output<T>
type Out<T extends z.ZodType> = z.output<T>

export interface WorkerServiceOptions {
  runtime: ContainerRuntime
  /** The current plugin registry; read at every create so a reload takes effect at once. */
  plugins: () => PluginRegistry
  /** Image every worker starts from (derived images are built FROM it). */
  baseImage: string
  /** Where declared secrets are read from (the spawner's environment). */
  hostEnv: Readonly<Record<string, string | undefined>>
  logger?: Logger
  /** Where status, output, response and command_exit events go. */
  events?: EventBus
  /** Largest file accepted by send_file or returned by read_file. Default 16 MiB. */
  maxFileBytes?: number
  /** Written as a label on every container this instance creates. */
  instance?: string
  /** `host:ip` entries for /etc/hosts. Default: host.docker.internal → host gateway. */
  extraHosts?: string[]
  now?: () => Date
  /** Write the last activity to the worker's state file at most this often. Default 30 s. */
  persistActivityMs?: number
  /** Signs worker tokens; with it every worker gets ORCHESTRATOR_URL / _TOKEN / _ALLOWED_TOOLS. */
  tokens?: { signer: TokenSigner; url: string }
  /**
   * Signs the state kept inside each worker. A restarted service needs the same key to know
   * its workers again (default: a random key, good for this process only).
   */
  secret?: string
  /** What plugins may ask for, and the limits on lifetimes and worker counts. */
  policy?: WorkerPolicy
  /** Reads a file on the spawner's host for plugins' `hostFiles`; absent where there is none. */
  readHostFile?: (path: string, maxBytes: number) => Promise<Uint8Array>
}

/** A file to write into a worker at create. */
interface FileToWrite {
  path: string
  content: Uint8Array
  mode: number
}

/** Largest file a plugin's `hostFiles` may copy from the host. */
const MAX_HOST_FILE_BYTES = 1024 * 1024
const HOME = '/home/worker'

export { TOKEN_FILE } from './worker-tokens.ts'

/** Why a worker is paused or deleted. */
export type ChangeReason = 'request' | 'ttl' | 'idle' | 'error'

/** Streaming hooks for send_command. */
export interface CommandHooks {
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void
  signal?: AbortSignal
  /** Carried into the events this request causes. */
  requestId?: string
  /** The worker making the call (orchestrator CLI); a create by it makes a sub-worker. */
  caller?: string
  /**
   * Called right before the command's first call that changes something (a container started,
   * a command run, a file or state written, a pause, a removal). A failure before it left
   * nothing changed, so the command may be retried; after it, it may have taken effect.
   */
  onEffect?: () => void
}

const newWorkerId = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return 'w-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * Everything a worker can be asked to do. Adapters (HTTP, Redis) call it through the command
 * catalog; it talks to containers only through the ContainerRuntime.
 */
export class WorkerService {
  readonly images: ImageResolver
  readonly events: EventBus
  private readonly workers = new Map<string, WorkerRecord>()
  /** Agent plugin captured at create: a registry reload leaves running workers untouched. */
  private readonly agents = new Map<string, AgentPlugin>()
  private readonly logger: Logger
  private readonly maxFileBytes: number
  private readonly now: () => Date
  private readonly mac: Mac
  readonly policy: WorkerPolicy
  /** Creates under way (they count against MAX_WORKERS before their record exists). */
  private creating = 0
  /** Commands and file operations running in workers, all together (MAX_COMMANDS). */
  private running = 0
  /** Sub-workers being created, by id: they count against their parent's and tree's quotas. */
  private readonly reservedChildren = new Map<string, { parentId: string; rootId: string }>()
  /** The last state-file write of each worker (see `writeState`). */
  private readonly stateWrites = new Map<string, Promise<void>>()
  /** One quota check at a time per tree (see `locked`). */
  private readonly treeLocks = new Map<string, Promise<void>>()
  /** Warm pools to take containers from at create (set by WarmPools itself). */
  pool: WarmPools | undefined

  constructor(private readonly opts: WorkerServiceOptions) {
    this.logger = opts.logger ?? noopLogger
    this.images = new ImageResolver(opts.runtime, this.logger)
    this.events = opts.events ?? new EventBus()
    this.maxFileBytes = opts.maxFileBytes ?? 16 * 1024 * 1024
    this.now = opts.now ?? (() => new Date())
    this.policy = opts.policy ?? DEFAULT_POLICY
    const secret = opts.secret ?? [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16)).join('')
    this.mac = new Mac(secret, 'worker state v2')
  }

  get runtime(): ContainerRuntime {
    return this.opts.runtime
  }

  /**
   * Creates a worker; with `by`, a sub-worker of that worker, never wider than it. Counts hold
   * under concurrency: MAX_WORKERS is reserved before the first await, and a tree's quotas are
   * checked and reserved under that tree's lock.
   */
  async create(
    input: In<typeof S.createInput>,
    hooks: CommandHooks = {},
    by?: { parentId: string },
  ): Promise<Out<typeof S.createOutput>> {
    const max = this.policy.maxWorkers
    const live = this.records().filter((r) => !r.pool).length
    if (max > 0 && live + this.creating >= max) {
      throw new SpawnerError('worker_limit', 429, `this instance already runs its maximum of ${max} workers (MAX_WORKERS)`)
    }
    this.creating++
    try {
      if (!by) return await this.createWorker(input.config, hooks)
      return await this.createChild(by.parentId, input.config, hooks)
    } finally {
      this.creating--
    }
  }

  private async createChild(parentId: string, raw: WorkerConfig, hooks: CommandHooks) {
    const { rootId } = await this.get(parentId)
    // Quotas are counted where the tree lives: a worker spawns through its own instance.
    if (!this.workers.has(parentId)) {
      throw new ForbiddenError(
        `worker '${parentId}' belongs to another instance: spawn sub-workers through the instance that runs it`,
        'not_your_instance',
      )
    }
    const workerId = newWorkerId()
    const { parent, config } = await this.locked(rootId, async () => {
      const parent = await this.get(parentId)
      const config = narrowChild(parent, raw, this.now())
      const reserved = [...this.reservedChildren]
      const children = new Set([
        ...(await this.childrenOf(parentId)),
        ...reserved.filter(([, r]) => r.parentId === parentId).map(([id]) => id),
      ])
      if (children.size >= parent.maxChildren) {
        throw new ForbiddenError(
          `worker '${parentId}' already has ${children.size} sub-workers (maxChildren ${parent.maxChildren})`,
          'quota_exceeded',
        )
      }
      const tree = new Set([
        ...this.records().filter((r) => !r.pool && r.rootId === rootId).map((r) => r.workerId),
        ...reserved.filter(([, r]) => r.rootId === rootId).map(([id]) => id),
      ])
      if (tree.size >= this.policy.maxTreeWorkers) {
        throw new ForbiddenError(
          `the tree of '${rootId}' already has ${tree.size} workers (MAX_TREE_WORKERS ${this.policy.maxTreeWorkers})`,
          'quota_exceeded',
        )
      }
      this.reservedChildren.set(workerId, { parentId, rootId })
      return { parent, config }
    })
    try {
      return await this.createWorker(config, hooks, parent, workerId)
    } finally {
      this.reservedChildren.delete(workerId)
    }
  }

  /** Runs `fn` after every earlier `fn` for the same key has settled. */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.treeLocks.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = before.then(() => new Promise<void>((r) => (release = r)))
    this.treeLocks.set(key, mine)
    await before
    try {
      return await fn()
    } finally {
      release()
      if (this.treeLocks.get(key) === mine) this.treeLocks.delete(key)
    }
  }

  private async createWorker(
    config: WorkerConfig,
    hooks: CommandHooks,
    parent?: WorkerRecord,
    id?: string,
  ): Promise<Out<typeof S.createOutput>> {
    if (config.ttlSeconds > this.policy.maxTtlSeconds) {
      throw new BadRequestError(`ttlSeconds: at most ${this.policy.maxTtlSeconds} (MAX_TTL_SECONDS)`, [
        { path: 'ttlSeconds', message: `at most ${this.policy.maxTtlSeconds}` },
      ])
    }
    const { resolved, spec: probe, workerId, createdAt } = this.prepare(
      config,
      id,
      undefined,
      parent ? { workerId: parent.workerId, depth: parent.depth, rootId: parent.rootId } : undefined,
    )
    if (parent) assertChildMounts(parent, probe.mounts)
    for (const [key, content] of Object.entries(config.files)) {
      resolveFilePath(configFilePath(key, config.workdir), this.fileRoots(config.workdir), `files.${key}`)
      if (utf8Encode(content).length > this.maxFileBytes) {
        throw new PayloadTooLargeError(`files.${key}: larger than ${this.maxFileBytes} bytes`)
      }
    }
    const hostFiles = await this.readHostFiles(resolved.ordered)
    // Hooks and tweaks were validated by prepare(); nothing is built or started before this.
    if (probe.runtime) await this.assertRuntime(probe.runtime, resolved.ordered)

    const pooled = parent ? undefined : this.pool?.take(config)
    if (pooled) return this.handOut(pooled, config, resolved, hooks, hostFiles)

    this.emit({ type: 'status', workerId, state: 'creating', reason: 'request' }, hooks.requestId)
    let started: { record: WorkerRecord; built: boolean }
    let running = false
    const onEffect = () => {
      running = true
      hooks.onEffect?.()
    }
    try {
      started = await this.startContainer(config, resolved, workerId, createdAt, probe, {}, hostFiles, onEffect)
    } catch (err) {
      if (running) await this.removeLeftovers(workerId)
      this.emitFailed(workerId, err, hooks.requestId)
      throw err
    }
    const { record } = started
    this.workers.set(workerId, record)
    this.agents.set(workerId, resolved.agent)
    this.logger.info('worker created', { workerId, containerId: record.containerId })
    this.emit({ type: 'status', workerId, state: 'running', reason: 'request' }, hooks.requestId)
    return this.createResult(record, started.built)
  }

  /** Builds or reuses the image, starts the container and writes the config's files. */
  async startContainer(
    config: WorkerConfig,
    resolved: ResolvedPlugins,
    workerId: string,
    createdAt: Date,
    spec: ContainerSpec,
    extraLabels: Record<string, string> = {},
    hostFiles: FileToWrite[] = [],
    onEffect?: () => void,
  ): Promise<{ record: WorkerRecord; built: boolean }> {
    const image = await this.images.resolve(this.opts.baseImage, resolved.ordered)
    const orchestrator = await this.orchestratorEnv(workerId, config, createdAt)
    const files = this.filesFor(config, workerId, resolved.ordered, hostFiles)
    // The token is in the env; its file is written only when `update` renews it (the CLI
    // prefers the file). Nothing else to write after the start: the labels hold the state, and
    // the create is done once the container runs (no state-file write on the way, see `restore`).
    const writesAfterStart = files.length > 0
    const full: ContainerSpec = {
      ...spec,
      env: { ...spec.env, ...orchestrator },
      image: image.tag,
      extraHosts: this.opts.extraHosts ?? ['host.docker.internal:host-gateway'],
      ...(this.opts.tokens?.url ? { workerApi: this.opts.tokens.url } : {}),
      labels: {
        ...spec.labels,
        ...extraLabels,
        ...(this.opts.instance ? { [LABELS.instance]: this.opts.instance } : {}),
        ...(writesAfterStart ? {} : { [LABELS.stateInLabels]: 'true' }),
      },
    }
    this.logger.info('worker creating', { workerId, agent: config.agent, capabilities: config.capabilities, image: image.tag })
    onEffect?.()
    const containerId = await this.opts.runtime.run(full)
    const record: WorkerRecord = {
      workerId,
      containerId,
      agent: config.agent,
      capabilities: config.capabilities,
      image: image.tag,
      workdir: config.workdir,
      labels: config.labels,
      createdAt,
      lastActiveAt: createdAt,
      ttlSeconds: config.ttlSeconds,
      idleSeconds: config.idleSeconds,
      state: 'running',
      runningCommands: 0,
      env: {},
      persistedActiveAt: createdAt.getTime(),
      ...(this.opts.instance ? { instance: this.opts.instance } : {}),
      ...(extraLabels[LABELS.pool] ? { pool: extraLabels[LABELS.pool] } : {}),
      ...(full.labels[LABELS.parent] ? { parentId: full.labels[LABELS.parent] } : {}),
      depth: Number(full.labels[LABELS.depth] ?? 0),
      rootId: full.labels[LABELS.root] ?? workerId,
      allowedTools: config.allowedTools,
      maxChildren: config.maxChildren,
      maxDepth: config.maxDepth,
      spawnablePlugins: config.spawnablePlugins,
      resources: config.resources,
      mounts: full.mounts,
      network: config.network,
    }
    if (!writesAfterStart) return { record, built: image.built }
    try {
      await this.writeFiles(containerId, files)
      // Written last: a container without it never finished its create and is removed at restart.
      await this.writeState(record)
    } catch (err) {
      await this.opts.runtime.remove(containerId).catch(() => undefined)
      throw err
    }
    return { record, built: image.built }
  }

  /** Reads the files plugins copy from the host (`hostFiles`), before anything starts. */
  private async readHostFiles(plugins: readonly Plugin[]): Promise<FileToWrite[]> {
    const out: FileToWrite[] = []
    for (const plugin of plugins) {
      for (const hf of plugin.hostFiles ?? []) {
        const dir = this.opts.hostEnv[hf.fromEnv]
        if (!dir) continue
        const source = `${dir.replace(/\/+$/, '')}/${hf.file}`
        const field = [{ path: 'agent', message: `needs ${source}` }]
        if (!this.opts.readHostFile) {
          throw new BadRequestError(
            `plugin '${plugin.name}' copies ${hf.fromEnv}/${hf.file} into workers, but this deployment cannot read ` +
              `files of its host: unset ${hf.fromEnv}`,
            field,
            'host_file_unavailable',
          )
        }
        let content: Uint8Array
        try {
          content = await this.opts.readHostFile(source, MAX_HOST_FILE_BYTES)
        } catch (err) {
          throw new BadRequestError(
            `plugin '${plugin.name}': cannot read ${source} (from ${hf.fromEnv}): ${err instanceof Error ? err.message : String(err)}`,
            field,
            'host_file_unreadable',
          )
        }
        const path = hf.target.startsWith('~/') ? `${HOME}/${hf.target.slice(2)}` : hf.target
        out.push({ path, content, mode: hf.mode ?? 0o600 })
      }
    }
    return out
  }

  private orchestratorEnv(workerId: string, config: { allowedTools: string[]; ttlSeconds: number }, from: Date) {
    return orchestratorEnv(this.opts.tokens, workerId, config, from)
  }

  private writeToken(containerId: string, env: Record<string, string>) {
    return writeToken(this.opts.runtime, containerId, env)
  }

  /** Validates a config and prepares its spec without starting anything (pools use it). */
  prepare(
    config: WorkerConfig,
    workerId = newWorkerId(),
    createdAt = this.now(),
    parent?: { workerId: string; depth: number; rootId: string },
  ) {
    assertStartable(config)
    const resolved = resolvePlugins(this.opts.plugins(), config)
    assertSecrets(resolved.ordered, this.opts.hostEnv)
    const spec = buildContainerSpec(config, resolved.ordered, {
      workerId,
      image: this.opts.baseImage,
      hostEnv: this.opts.hostEnv,
      now: createdAt,
      policy: this.policy,
      ...(parent ? { parent } : {}),
    })
    return { resolved, spec, workerId, createdAt }
  }

  /** Registers a container that waits in a warm pool (not visible as a worker). */
  adoptPooled(record: WorkerRecord, agent: AgentPlugin) {
    this.workers.set(record.workerId, record)
    this.agents.set(record.workerId, agent)
  }

  /** Turns a warm pool container into the caller's worker. */
  private async handOut(
    record: WorkerRecord,
    config: WorkerConfig,
    resolved: ResolvedPlugins,
    hooks: CommandHooks,
    hostFiles: FileToWrite[],
  ): Promise<Out<typeof S.createOutput>> {
    const agent = resolved.agent
    const now = this.now()
    const orchestrator = await this.orchestratorEnv(record.workerId, config, now)
    const handedOut: WorkerRecord = {
      ...record,
      labels: config.labels,
      env: { ...config.env, ...orchestrator },
      allowedTools: config.allowedTools,
      maxChildren: config.maxChildren,
      maxDepth: config.maxDepth,
      spawnablePlugins: config.spawnablePlugins,
      createdAt: now,
      lastActiveAt: now,
      persistedActiveAt: now.getTime(),
      ttlSeconds: config.ttlSeconds,
      idleSeconds: config.idleSeconds,
    }
    delete handedOut.pool
    hooks.onEffect?.()
    try {
      await this.writeFiles(record.containerId, this.filesFor(config, record.workerId, resolved.ordered, hostFiles))
      await this.writeToken(record.containerId, orchestrator)
      await this.writeState(handedOut)
    } catch (err) {
      this.forget(record.workerId)
      await this.opts.runtime.remove(record.containerId).catch(() => undefined)
      throw err
    }
    delete record.pool
    Object.assign(record, handedOut)
    this.agents.set(record.workerId, agent)
    this.logger.info('worker created from the warm pool', { workerId: record.workerId })
    this.emit({ type: 'status', workerId: record.workerId, state: 'running', reason: 'request' }, hooks.requestId)
    return this.createResult(record, false)
  }

  private createResult(record: WorkerRecord, built: boolean): Out<typeof S.createOutput> {
    const status = toStatus(record)
    return {
      workerId: record.workerId,
      status: 'running',
      image: record.image,
      imageBuilt: built,
      createdAt: status.createdAt,
      expiresAt: status.expiresAt,
    }
  }

  /** What a create writes into the container, in order; see `writeFiles`. */
  private filesFor(
    config: WorkerConfig,
    workerId: string,
    plugins: readonly Plugin[],
    hostFiles: readonly FileToWrite[],
  ): { path: string; content: Uint8Array; opts: PutFileOptions }[] {
    const pctx = pluginContext(config, workerId, this.opts.hostEnv)
    const roots = this.fileRoots(config.workdir)
    return [
      ...pluginFiles(plugins, pctx).map((f) => ({ path: f.path, content: utf8Encode(f.content), opts: { mode: 0o600, roots } })),
      ...hostFiles.map((f) => ({ path: f.path, content: f.content, opts: { mode: f.mode } })),
      ...Object.entries(config.files).map(([key, content]) => ({
        path: configFilePath(key, config.workdir),
        content: utf8Encode(content),
        opts: { roots },
      })),
    ]
  }

  /** Plugin files (CLI config, host files) first, then the config's own files, which may override them. */
  private async writeFiles(containerId: string, files: readonly { path: string; content: Uint8Array; opts: PutFileOptions }[]) {
    for (const file of files) await this.opts.runtime.putFile(containerId, file.path, file.content, file.opts)
  }

  async sendCommand(input: In<typeof S.sendCommandInput>, hooks: CommandHooks = {}): Promise<Out<typeof S.sendCommandOutput>> {
    const record = await this.get(input.workerId)
    let req: ExecRequest
    let agent: AgentPlugin | undefined
    if (input.prompt !== undefined) {
      agent = this.agentFor(record)
      const cmd = agentPrompt(agent, {
        prompt: input.prompt,
        workdir: input.workdir ?? record.workdir,
        env: input.env ?? {},
        stream: hooks.onOutput !== undefined,
        ...(input.sessionId ? { sessionId: input.sessionId } : {}),
      })
      req = { argv: cmd.argv, env: { ...record.env, ...cmd.env, ...input.env } }
      if (cmd.stdin !== undefined) req.stdin = cmd.stdin
    } else if (input.shell !== undefined) {
      req = { argv: ['/bin/bash', '-c', input.shell], env: { ...record.env, ...input.env } }
    } else {
      req = { argv: input.argv ?? [], env: { ...record.env, ...input.env } }
    }
    req.workdir = input.workdir ?? record.workdir
    req.timeoutMs = input.timeoutMs
    if (hooks.signal) req.signal = hooks.signal
    let seq = 0
    const workerId = record.workerId
    req.onOutput = (stream, data) => {
      this.emit({ type: 'output', workerId, stream, data, seq: seq++ }, hooks.requestId)
      hooks.onOutput?.(stream, data)
    }

    hooks.onEffect?.()
    const result = await this.active(record, () => this.opts.runtime.exec(record.containerId, req))
    this.emit(
      { type: 'command_exit', workerId, exitCode: result.exitCode, timedOut: result.timedOut, durationMs: result.durationMs },
      hooks.requestId,
    )
    if (!agent) return result
    try {
      const reply = agentReply(agent, result)
      addUsage(record, reply.usage)
      this.emit({ type: 'response', workerId, reply }, hooks.requestId)
      return { ...result, reply }
    } catch (err) {
      // parse() threw (the CLI reported a failure) or said noResult(): the message says why.
      this.logger.warn('agent reported no reply', { workerId: record.workerId, agent: agent.name })
      throw new SpawnerError(
        'agent_error',
        502,
        `agent '${agent.name}' (exit ${result.exitCode}) gave no reply: ${err instanceof Error ? err.message : String(err)}`,
        { exitCode: result.exitCode, stderr: result.stderr.slice(-2000) },
      )
    }
  }

  async sendFile(input: In<typeof S.sendFileInput>, hooks: CommandHooks = {}): Promise<Out<typeof S.sendFileOutput>> {
    const record = await this.get(input.workerId)
    const path = resolveFilePath(input.path, this.fileRoots(record.workdir))
    let bytes: Uint8Array
    if (input.encoding === 'base64') {
      try {
        bytes = base64ToBytes(input.content)
      } catch {
        throw new BadRequestError('content: not valid base64', [{ path: 'content', message: 'not valid base64' }])
      }
    } else {
      bytes = utf8Encode(input.content)
    }
    hooks.onEffect?.()
    return this.putBytes(record, path, bytes, input.mode)
  }

  /** Writes raw bytes (the HTTP PUT route's body) into a worker. */
  async putBytes(recordOrId: WorkerRecord | string, rawPath: string, bytes: Uint8Array, mode?: number) {
    const record = typeof recordOrId === 'string' ? await this.get(recordOrId) : recordOrId
    const path = resolveFilePath(rawPath, this.fileRoots(record.workdir))
    if (bytes.length > this.maxFileBytes) {
      throw new PayloadTooLargeError(`file is ${bytes.length} bytes; the limit is ${this.maxFileBytes}`)
    }
    await this.active(record, () =>
      this.opts.runtime.putFile(record.containerId, path, bytes, { ...(mode === undefined ? {} : { mode }), roots: this.fileRoots(record.workdir) }),
    )
    return { path, size: bytes.length }
  }

  /** Reads raw bytes out of a worker. */
  async getBytes(workerId: string, rawPath: string): Promise<{ path: string; bytes: Uint8Array }> {
    const record = await this.get(workerId)
    const path = resolveFilePath(rawPath, this.fileRoots(record.workdir))
    const bytes = await this.active(record, () =>
      this.opts.runtime.getFile(record.containerId, path, { maxBytes: this.maxFileBytes, roots: this.fileRoots(record.workdir) }),
    )
    return { path, bytes }
  }

  async readFile(input: In<typeof S.readFileInput>): Promise<Out<typeof S.readFileOutput>> {
    const { path, bytes } = await this.getBytes(input.workerId, input.path)
    const content = input.encoding === 'utf8' ? utf8Decode(bytes) : bytesToBase64(bytes)
    return { path, size: bytes.length, encoding: input.encoding, content }
  }

  async status(input: { workerId: string }): Promise<Out<typeof S.statusOutput>> {
    const record = await this.get(input.workerId)
    const info = await this.opts.runtime.inspect(record.containerId)
    if (!info) {
      this.forget(record.workerId)
      throw new NotFoundError(`no worker '${input.workerId}'`, 'worker_not_found')
    }
    record.state = stateFromContainer(info.state)
    return toStatus(record)
  }

  async logs(input: In<typeof S.logsInput>): Promise<Out<typeof S.logsOutput>> {
    const record = await this.get(input.workerId)
    const { lines, truncated } = await this.opts.runtime.logs(record.containerId, {
      ...(input.tail !== undefined ? { tail: input.tail } : {}),
      ...(input.since !== undefined ? { since: input.since } : {}),
    })
    return { workerId: record.workerId, lines, ...(truncated ? { truncated } : {}) }
  }

  /** Streams log lines until `signal` aborts or the container stops. */
  async followLogs(input: In<typeof S.logsInput>, onLine: (line: LogLine) => void, signal: AbortSignal) {
    const record = await this.get(input.workerId)
    await this.opts.runtime.followLogs(
      record.containerId,
      {
        ...(input.tail !== undefined ? { tail: input.tail } : {}),
        ...(input.since !== undefined ? { since: input.since } : {}),
      },
      onLine,
      signal,
    )
  }

  async pause(
    input: { workerId: string },
    hooks: CommandHooks = {},
    reason: ChangeReason = 'request',
  ): Promise<Out<typeof S.stateOutput>> {
    const record = await this.get(input.workerId)
    if (record.runningCommands > 0) {
      throw new ConflictError(`worker '${record.workerId}' is running a command; pause it when it is idle`, 'worker_busy')
    }
    hooks.onEffect?.()
    const pausing = this.opts.runtime.pause(record.containerId)
    record.pausing = pausing.catch(() => undefined)
    try {
      await pausing
    } finally {
      delete record.pausing
    }
    record.state = 'paused'
    this.logger.info('worker paused', { workerId: record.workerId, reason })
    this.emit({ type: 'status', workerId: record.workerId, state: 'paused', reason }, hooks.requestId)
    return { workerId: record.workerId, state: record.state }
  }

  async resume(input: { workerId: string }, hooks: CommandHooks = {}): Promise<Out<typeof S.stateOutput>> {
    const record = await this.get(input.workerId)
    hooks.onEffect?.()
    await this.opts.runtime.unpause(record.containerId)
    record.state = 'running'
    record.lastActiveAt = this.now()
    this.logger.info('worker resumed', { workerId: record.workerId })
    this.emit({ type: 'status', workerId: record.workerId, state: 'running', reason: 'request' }, hooks.requestId)
    return { workerId: record.workerId, state: record.state }
  }

  /**
   * Changes a worker's TTL or idle time. The lifetime never passes MAX_TTL_SECONDS, a
   * sub-worker's never passes its parent's, and a worker cannot lengthen its own.
   */
  async update(input: In<typeof S.updateInput>, hooks: CommandHooks = {}): Promise<Out<typeof S.statusOutput>> {
    const record = await this.get(input.workerId)
    let ttlSeconds = input.ttlSeconds ?? record.ttlSeconds
    if (input.ttlSeconds !== undefined) {
      if (ttlSeconds > this.policy.maxTtlSeconds) {
        throw new BadRequestError(`ttlSeconds: at most ${this.policy.maxTtlSeconds} (MAX_TTL_SECONDS)`, [
          { path: 'ttlSeconds', message: `at most ${this.policy.maxTtlSeconds}` },
        ])
      }
      if (hooks.caller === record.workerId && ttlSeconds > record.ttlSeconds) {
        throw new ForbiddenError(`worker '${record.workerId}' cannot lengthen its own lifetime`, 'ttl_not_allowed')
      }
      if (record.parentId) {
        const parent = await this.get(record.parentId).catch(() => undefined)
        const parentEnds = parent ? parent.createdAt.getTime() + parent.ttlSeconds * 1000 : this.now().getTime()
        ttlSeconds = Math.max(1, Math.min(ttlSeconds, Math.floor((parentEnds - record.createdAt.getTime()) / 1000)))
      }
    }
    const next = { ttlSeconds, idleSeconds: input.idleSeconds ?? record.idleSeconds }
    hooks.onEffect?.()
    // A longer life needs a token that lives as long. The file is written inside the worker as
    // its user, so a paused worker is resumed first; a token file the agent redirected stays
    // stale (its own doing) and the update still holds.
    if (input.ttlSeconds !== undefined) {
      const env = await this.orchestratorEnv(
        record.workerId,
        { allowedTools: record.allowedTools, ttlSeconds: next.ttlSeconds },
        record.createdAt,
      )
      await this.active(record, () => this.writeToken(record.containerId, env)).catch((err: unknown) => {
        if (!(err instanceof BadRequestError)) throw err
        this.logger.warn('token file not refreshed', { workerId: record.workerId, reason: err.message })
      })
    }
    // Before the record changes: a change the container does not hold would be lost on restart.
    await this.writeState({ ...record, ...next })
    Object.assign(record, next)
    return toStatus(record)
  }

  async delete(
    input: { workerId: string },
    hooks: CommandHooks = {},
    reason: ChangeReason = 'request',
  ): Promise<Out<typeof S.deleteOutput>> {
    const record = await this.get(input.workerId)
    // Sub-workers go first, with everything below them.
    const children: string[] = []
    for (const childId of await this.childrenOf(record.workerId)) {
      const gone = await this.delete({ workerId: childId }, hooks, reason).catch((err) => {
        if (err instanceof NotFoundError) return undefined
        throw err
      })
      if (gone) children.push(gone.workerId, ...gone.children)
    }
    hooks.onEffect?.()
    await this.opts.runtime.remove(record.containerId)
    this.forget(record.workerId)
    this.logger.info('worker deleted', { workerId: record.workerId, reason, children: children.length })
    this.emit({ type: 'status', workerId: record.workerId, state: 'deleted', reason }, hooks.requestId)
    return { workerId: record.workerId, deleted: true, children }
  }

  /** Publishes a `response` event for the worker: how an agent talks back mid-task. */
  async respond(input: In<typeof S.respondInput>, hooks: CommandHooks = {}): Promise<Out<typeof S.respondOutput>> {
    const record = await this.get(input.workerId)
    this.emit({ type: 'response', workerId: record.workerId, reply: { text: input.text, raw: null } }, hooks.requestId)
    return { workerId: record.workerId, published: true }
  }

  /** Ids of the workers `workerId` spawned (from memory and from container labels). */
  childrenOf(workerId: string): Promise<string[]> {
    return childrenOf(this, workerId)
  }

  /** True when `workerId` is `ancestorId` or was spawned, directly or not, by it. */
  isWithin(workerId: string, ancestorId: string): Promise<boolean> {
    return isWithin(this, workerId, ancestorId)
  }

  async list(input: In<typeof S.listInput>): Promise<Out<typeof S.listOutput>> {
    const containers = await this.opts.runtime.list({ ...input.labels, [LABELS.managed]: 'true' })
    const workers = containers.flatMap((info) => {
      const fresh = recordFromContainer(info)
      if (!fresh) return []
      const known = this.workers.get(fresh.workerId)
      const record = known ?? fresh
      // Pool containers are nobody's workers until handed out.
      if (record.pool) return []
      record.state = stateFromContainer(info.state)
      return [toStatus(record)]
    })
    workers.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    return { workers }
  }

  plugins(): Out<typeof S.pluginsOutput> {
    const registry = this.opts.plugins()
    return {
      loadedAt: registry.loadedAt.toISOString(),
      plugins: registry.list(),
      errors: [...registry.errors],
    }
  }

  /** Finds a worker by id: from memory, else from container labels (e.g. after a restart). */
  async get(workerId: string): Promise<WorkerRecord> {
    const known = this.workers.get(workerId)
    if (known && !known.pool) return known
    if (known) throw new NotFoundError(`no worker '${workerId}'`, 'worker_not_found')
    const [info] = await this.opts.runtime.list({ [LABELS.workerId]: workerId, [LABELS.managed]: 'true' })
    const record =
      info &&
      (await this.restore(info).catch((err) => {
        if (!(err instanceof StateFileError)) throw err
        this.logger.warn('worker container refused: its state cannot be trusted', { workerId, reason: err.message })
        return undefined
      }))
    if (!record || record.pool) throw new NotFoundError(`no worker '${workerId}'`, 'worker_not_found')
    // Another instance's worker is looked at, never taken over: its deadlines stay its owner's
    // (a takeover is `adopt`, decided by whoever knows the owner is gone).
    if (record.instance === this.opts.instance) this.workers.set(workerId, record)
    return record
  }

  /** Takes over a worker of another instance (its owner is gone): this one now runs its deadlines. */
  async adopt(workerId: string): Promise<WorkerRecord> {
    const record = await this.get(workerId)
    this.workers.set(workerId, record)
    return record
  }

  /**
   * A record rebuilt from a container's labels and its signed state file; undefined if the
   * labels are not ours. A worker whose create wrote nothing after the start has no state file
   * until its first change (`stateInLabels`): its labels are its state. Throws StateFileError
   * when the state file is missing otherwise (the create never finished), forged, or out of
   * bounds: such a container is never served.
   */
  async restore(info: ContainerInfo): Promise<WorkerRecord | undefined> {
    const record = recordFromContainer(info)
    if (!record) return undefined
    const state = await readWorkerState(this.opts.runtime, record.containerId, record.workerId, this.mac)
    if (!state && info.labels[LABELS.stateInLabels] === 'true') {
      record.persistedActiveAt = record.createdAt.getTime()
      return record
    }
    if (!state) throw new StateFileError('no state file: its create never finished')
    const createdAt = new Date(state.createdAt)
    const lastActiveAt = new Date(state.lastActiveAt)
    // Signed, so written by a service with this key; the clock checks catch a skewed writer.
    const latest = this.now().getTime() + 5 * 60_000
    if (createdAt.getTime() > latest || lastActiveAt.getTime() > latest || createdAt < record.createdAt) {
      throw new StateFileError('state file times are out of bounds')
    }
    Object.assign(record, {
      createdAt,
      ttlSeconds: state.ttlSeconds,
      idleSeconds: state.idleSeconds,
      lastActiveAt,
      persistedActiveAt: lastActiveAt.getTime(),
      labels: state.labels,
      env: state.env,
      allowedTools: state.allowedTools,
      maxChildren: state.maxChildren,
      maxDepth: state.maxDepth,
      spawnablePlugins: state.spawnablePlugins,
      resources: state.resources,
      mounts: state.mounts,
      network: state.network,
    })
    if (state.handedOut) delete record.pool
    return record
  }

  /** Records held by this service (workers and pool containers). */
  records(): WorkerRecord[] {
    return [...this.workers.values()]
  }

  /** Keeps a restored record (recovery after a restart). */
  track(record: WorkerRecord) {
    this.workers.set(record.workerId, record)
  }

  private stateOf(r: WorkerRecord): WorkerStateFile {
    return {
      createdAt: r.createdAt.toISOString(),
      ttlSeconds: r.ttlSeconds,
      idleSeconds: r.idleSeconds,
      lastActiveAt: r.lastActiveAt.toISOString(),
      labels: r.labels,
      env: r.env,
      handedOut: r.pool === undefined,
      allowedTools: r.allowedTools,
      maxChildren: r.maxChildren,
      maxDepth: r.maxDepth,
      spawnablePlugins: r.spawnablePlugins,
      resources: r.resources,
      mounts: r.mounts,
      network: r.network,
    }
  }

  /**
   * Writes the worker's state file. Writes of one worker go one after another, in the order they
   * were asked for, each with the record as it was then: a background activity write started
   * before an `update` can never land after it and undo it.
   */
  private writeState(r: WorkerRecord): Promise<void> {
    const state = this.stateOf(r)
    const before = this.stateWrites.get(r.workerId) ?? Promise.resolve()
    const write = before
      .catch(() => undefined)
      .then(() => writeWorkerState(this.opts.runtime, r.containerId, r.workerId, this.mac, state))
    const tail = write.catch(() => undefined)
    this.stateWrites.set(r.workerId, tail)
    void tail.then(() => {
      if (this.stateWrites.get(r.workerId) === tail) this.stateWrites.delete(r.workerId)
    })
    return write
  }

  /** Writes the last activity now and then, so a restart keeps the idle deadline. */
  private persistActivity(record: WorkerRecord) {
    const every = this.opts.persistActivityMs ?? 30_000
    if (record.lastActiveAt.getTime() - record.persistedActiveAt < every) return
    record.persistedActiveAt = record.lastActiveAt.getTime()
    this.writeState(record).catch((err) =>
      this.logger.debug('activity not persisted', { workerId: record.workerId, error: String(err) }),
    )
  }

  /** Validates a raw WorkerConfig (exposed for adapters that take it outside `create`). */
  parseConfig(raw: unknown) {
    return parseInput(workerConfigSchema, raw, 'worker config')
  }

  private emit(event: DistributiveOmit<SpawnerEvent, 'at' | 'requestId'>, requestId?: string) {
    this.events.publish({
      ...event,
      at: this.now().toISOString(),
      ...(requestId ? { requestId } : {}),
    } as SpawnerEvent)
  }

  private emitFailed(workerId: string, err: unknown, requestId?: string) {
    const message = err instanceof SpawnerError ? err.message : 'internal error'
    this.emit({ type: 'status', workerId, state: 'failed', reason: 'error', message }, requestId)
  }

  /**
   * A failed create may have left a container behind (started, then the engine's answer was
   * lost or a file write failed): whatever carries the new worker's id goes. The create's own
   * error is what the caller gets, so a failure here is only logged.
   */
  private async removeLeftovers(workerId: string) {
    try {
      for (const c of await this.opts.runtime.list({ [LABELS.workerId]: workerId })) {
        await this.opts.runtime.remove(c.id).catch((err: unknown) =>
          this.logger.warn('container of a failed create not removed', { workerId, containerId: c.id, error: String(err) }),
        )
      }
    } catch (err) {
      this.logger.warn('containers of a failed create not listed', { workerId, error: String(err) })
    }
  }

  private forget(workerId: string) {
    this.workers.delete(workerId)
    this.agents.delete(workerId)
  }

  private agentFor(record: WorkerRecord): AgentPlugin {
    const captured = this.agents.get(record.workerId)
    if (captured) return captured
    const plugin = this.opts.plugins().get(record.agent)
    if (!plugin || plugin.kind !== 'agent') {
      throw new ConflictError(
        `worker '${record.workerId}' runs agent '${record.agent}', which is not loaded now`,
        'agent_unavailable',
      )
    }
    this.agents.set(record.workerId, plugin)
    return plugin
  }

  private fileRoots(workdir: string): string[] {
    return [workdir, ...EXTRA_FILE_ROOTS]
  }

  /**
   * Runs `work` with the worker marked active: a paused worker is resumed first (also when it
   * was paused behind our back), and last-active time moves forward.
   */
  private async active<T>(record: WorkerRecord, work: () => Promise<T>): Promise<T> {
    // Each command may hold its output (up to 16 MiB a stream) here: their number is bounded.
    const { maxWorkerCommands, maxCommands } = this.policy
    if (record.runningCommands >= maxWorkerCommands) {
      throw new SpawnerError(
        'too_many_commands',
        429,
        `worker '${record.workerId}' already runs ${record.runningCommands} commands (at most ${maxWorkerCommands} at once)`,
      )
    }
    if (this.running >= maxCommands) {
      throw new SpawnerError('too_many_commands', 429, `this instance already runs ${this.running} commands (MAX_COMMANDS)`)
    }
    record.runningCommands++
    this.running++
    try {
      if (record.pausing) await record.pausing
      if (record.state === 'paused') await this.resume({ workerId: record.workerId })
    } catch (err) {
      record.runningCommands--
      this.running--
      throw err
    }
    record.lastActiveAt = this.now()
    try {
      try {
        return await work()
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err
        const info = await this.opts.runtime.inspect(record.containerId)
        if (info?.state !== 'paused') throw err
        await this.resume({ workerId: record.workerId })
        return await work()
      }
    } finally {
      record.runningCommands--
      this.running--
      record.lastActiveAt = this.now()
      if (this.workers.has(record.workerId)) this.persistActivity(record)
    }
  }

  private async assertRuntime(runtime: string, plugins: readonly Plugin[]) {
    const available = await this.opts.runtime.runtimes()
    if (available.includes(runtime)) return
    const by = plugins
      .filter((p) => p.container !== undefined)
      .map((p) => `'${p.name}'`)
      .join(', ')
    throw new BadRequestError(
      `${by} needs the container runtime '${runtime}', which this Docker Engine does not have ` +
        `(it has: ${available.join(', ') || 'none'}). Install it on the Docker host ` +
        `(for sysbox-runc: https://github.com/nestybox/sysbox/blob/master/docs/user-guide/install.md), ` +
        'register it in /etc/docker/daemon.json and restart dockerd. Privileged containers are never used instead.',
      [{ path: 'capabilities', message: `needs runtime '${runtime}'` }],
      'runtime_unavailable',
    )
  }
}
