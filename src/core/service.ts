import type { z } from 'zod'
import { workerConfigSchema, type WorkerConfig } from './config.ts'
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, SpawnerError } from './errors.ts'
import type { TokenSigner } from './auth/jwt.ts'
import { admitChild, childrenOf, isWithin } from './sub-workers.ts'
import { orchestratorEnv, writeToken } from './worker-tokens.ts'
import { ImageResolver } from './images.ts'
import type { Logger } from './logger.ts'
import { noopLogger } from './logger.ts'
import { EXTRA_FILE_ROOTS, configFilePath, resolveFilePath } from './paths.ts'
import type { AgentPlugin, Plugin } from './plugin/contract.ts'
import type { PluginRegistry } from './plugin/registry.ts'
import { resolvePlugins, type ResolvedPlugins } from './resolve.ts'
import type { ContainerInfo, ContainerRuntime, ContainerSpec, ExecRequest, LogLine } from './runtime.ts'
import { readWorkerState, writeWorkerState, type WorkerStateFile } from './worker-state.ts'
import type { WarmPools } from './pool.ts'
import type * as S from './schemas.ts'
import { assertSecrets, buildContainerSpec, pluginContext, pluginFiles } from './spec.ts'
import { LABELS } from './labels.ts'
import { base64ToBytes, bytesToBase64, utf8Decode, utf8Encode } from './bytes.ts'
import { addUsage, recordFromContainer, stateFromContainer, toStatus, type WorkerRecord } from './worker-record.ts'
import { parseInput } from './validation.ts'
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
}

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
  /** Warm pools to take containers from at create (set by WarmPools itself). */
  pool: WarmPools | undefined

  constructor(private readonly opts: WorkerServiceOptions) {
    this.logger = opts.logger ?? noopLogger
    this.images = new ImageResolver(opts.runtime, this.logger)
    this.events = opts.events ?? new EventBus()
    this.maxFileBytes = opts.maxFileBytes ?? 16 * 1024 * 1024
    this.now = opts.now ?? (() => new Date())
  }

  get runtime(): ContainerRuntime {
    return this.opts.runtime
  }

  async create(
    input: In<typeof S.createInput>,
    hooks: CommandHooks = {},
    by?: { parentId: string },
  ): Promise<Out<typeof S.createOutput>> {
    const parent = by ? await admitChild(this, by.parentId, input.config) : undefined
    const config = parent ? parent.config : input.config
    const { resolved, spec: probe, workerId, createdAt } = this.prepare(
      config,
      undefined,
      undefined,
      parent ? { workerId: parent.record.workerId, depth: parent.record.depth } : undefined,
    )
    for (const [key, content] of Object.entries(config.files)) {
      resolveFilePath(configFilePath(key, config.workdir), this.fileRoots(config.workdir), `files.${key}`)
      if (utf8Encode(content).length > this.maxFileBytes) {
        throw new PayloadTooLargeError(`files.${key}: larger than ${this.maxFileBytes} bytes`)
      }
    }
    // Hooks and tweaks were validated by prepare(); nothing is built or started before this.
    if (probe.runtime) await this.assertRuntime(probe.runtime, resolved.ordered)

    const pooled = parent ? undefined : this.pool?.take(config)
    if (pooled) return this.handOut(pooled, config, resolved, hooks)

    this.emit({ type: 'status', workerId, state: 'creating', reason: 'request' }, hooks.requestId)
    let started: { record: WorkerRecord; built: boolean }
    try {
      started = await this.startContainer(config, resolved, workerId, createdAt, probe)
    } catch (err) {
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
  ): Promise<{ record: WorkerRecord; built: boolean }> {
    const image = await this.images.resolve(this.opts.baseImage, resolved.ordered)
    const orchestrator = await this.orchestratorEnv(workerId, config, createdAt)
    const full: ContainerSpec = {
      ...spec,
      env: { ...spec.env, ...orchestrator },
      image: image.tag,
      extraHosts: this.opts.extraHosts ?? ['host.docker.internal:host-gateway'],
      labels: {
        ...spec.labels,
        ...extraLabels,
        ...(this.opts.instance ? { [LABELS.instance]: this.opts.instance } : {}),
      },
    }
    this.logger.info('worker creating', { workerId, agent: config.agent, capabilities: config.capabilities, image: image.tag })
    const containerId = await this.opts.runtime.run(full)
    try {
      await this.writeFiles(containerId, config, workerId, resolved.ordered)
      await this.writeToken(containerId, orchestrator)
    } catch (err) {
      await this.opts.runtime.remove(containerId).catch(() => undefined)
      throw err
    }
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
      allowedTools: config.allowedTools,
      maxChildren: config.maxChildren,
      maxDepth: config.maxDepth,
    }
    return { record, built: image.built }
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
    parent?: { workerId: string; depth: number },
  ) {
    const resolved = resolvePlugins(this.opts.plugins(), config)
    assertSecrets(resolved.ordered, this.opts.hostEnv)
    const spec = buildContainerSpec(config, resolved.ordered, {
      workerId,
      image: this.opts.baseImage,
      hostEnv: this.opts.hostEnv,
      now: createdAt,
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
  ): Promise<Out<typeof S.createOutput>> {
    const agent = resolved.agent
    const now = this.now()
    const orchestrator = await this.orchestratorEnv(record.workerId, config, now)
    try {
      await this.writeFiles(record.containerId, config, record.workerId, resolved.ordered)
      await this.writeToken(record.containerId, orchestrator)
      await writeWorkerState(this.opts.runtime, record.containerId, {
        version: 1,
        createdAt: now.toISOString(),
        ttlSeconds: config.ttlSeconds,
        idleSeconds: config.idleSeconds,
        lastActiveAt: now.toISOString(),
        labels: config.labels,
        env: { ...config.env, ...orchestrator },
        handedOut: true,
        allowedTools: config.allowedTools,
        maxChildren: config.maxChildren,
        maxDepth: config.maxDepth,
      })
    } catch (err) {
      this.forget(record.workerId)
      await this.opts.runtime.remove(record.containerId).catch(() => undefined)
      throw err
    }
    delete record.pool
    Object.assign(record, {
      labels: config.labels,
      env: { ...config.env, ...orchestrator },
      allowedTools: config.allowedTools,
      maxChildren: config.maxChildren,
      maxDepth: config.maxDepth,
      createdAt: now,
      lastActiveAt: now,
      persistedActiveAt: now.getTime(),
      ttlSeconds: config.ttlSeconds,
      idleSeconds: config.idleSeconds,
    })
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

  /** Plugin files (CLI config) first, then the config's own files, which may override them. */
  private async writeFiles(containerId: string, config: WorkerConfig, workerId: string, plugins: readonly Plugin[]) {
    const pctx = pluginContext(config, workerId, this.opts.hostEnv)
    for (const file of pluginFiles(plugins, pctx)) {
      await this.opts.runtime.putFile(containerId, file.path, utf8Encode(file.content), { mode: 0o600 })
    }
    for (const [key, content] of Object.entries(config.files)) {
      await this.opts.runtime.putFile(containerId, configFilePath(key, config.workdir), utf8Encode(content))
    }
  }

  async sendCommand(input: In<typeof S.sendCommandInput>, hooks: CommandHooks = {}): Promise<Out<typeof S.sendCommandOutput>> {
    const record = await this.get(input.workerId)
    let req: ExecRequest
    let agent: AgentPlugin | undefined
    if (input.prompt !== undefined) {
      agent = this.agentFor(record)
      const cmd = agent.prompt({
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

    const result = await this.active(record, () => this.opts.runtime.exec(record.containerId, req))
    this.emit(
      { type: 'command_exit', workerId, exitCode: result.exitCode, timedOut: result.timedOut, durationMs: result.durationMs },
      hooks.requestId,
    )
    if (!agent) return result
    try {
      const reply = agent.parse(result)
      addUsage(record, reply.usage)
      this.emit({ type: 'response', workerId, reply }, hooks.requestId)
      return { ...result, reply }
    } catch (err) {
      // A plugin's parse() throws when the CLI failed or said nothing usable; its message says why.
      this.logger.warn('agent reported no reply', { workerId: record.workerId, agent: agent.name })
      throw new SpawnerError(
        'agent_error',
        502,
        `agent '${agent.name}' (exit ${result.exitCode}) gave no reply: ${err instanceof Error ? err.message : String(err)}`,
        { exitCode: result.exitCode, stderr: result.stderr.slice(-2000) },
      )
    }
  }

  async sendFile(input: In<typeof S.sendFileInput>): Promise<Out<typeof S.sendFileOutput>> {
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
      this.opts.runtime.putFile(record.containerId, path, bytes, mode === undefined ? {} : { mode }),
    )
    return { path, size: bytes.length }
  }

  /** Reads raw bytes out of a worker. */
  async getBytes(workerId: string, rawPath: string): Promise<{ path: string; bytes: Uint8Array }> {
    const record = await this.get(workerId)
    const path = resolveFilePath(rawPath, this.fileRoots(record.workdir))
    const bytes = await this.active(record, () =>
      this.opts.runtime.getFile(record.containerId, path, { maxBytes: this.maxFileBytes }),
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
    const lines = await this.opts.runtime.logs(record.containerId, {
      ...(input.tail !== undefined ? { tail: input.tail } : {}),
      ...(input.since !== undefined ? { since: input.since } : {}),
    })
    return { workerId: record.workerId, lines }
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
    await this.opts.runtime.unpause(record.containerId)
    record.state = 'running'
    record.lastActiveAt = this.now()
    this.logger.info('worker resumed', { workerId: record.workerId })
    this.emit({ type: 'status', workerId: record.workerId, state: 'running', reason: 'request' }, hooks.requestId)
    return { workerId: record.workerId, state: record.state }
  }

  async update(input: In<typeof S.updateInput>): Promise<Out<typeof S.statusOutput>> {
    const record = await this.get(input.workerId)
    const next = {
      ttlSeconds: input.ttlSeconds ?? record.ttlSeconds,
      idleSeconds: input.idleSeconds ?? record.idleSeconds,
    }
    // Written first: a change the container does not hold would be lost on restart.
    await writeWorkerState(this.opts.runtime, record.containerId, this.stateOf({ ...record, ...next }))
    // A longer life needs a token that lives as long.
    if (input.ttlSeconds !== undefined) {
      await this.writeToken(
        record.containerId,
        await this.orchestratorEnv(record.workerId, { allowedTools: record.allowedTools, ttlSeconds: next.ttlSeconds }, record.createdAt),
      )
    }
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
    const record = info && (await this.restore(info))
    if (!record || record.pool) throw new NotFoundError(`no worker '${workerId}'`, 'worker_not_found')
    this.workers.set(workerId, record)
    return record
  }

  /** A record rebuilt from a container's labels and its state file; undefined if not ours. */
  async restore(info: ContainerInfo): Promise<WorkerRecord | undefined> {
    const record = recordFromContainer(info)
    if (!record) return undefined
    const state = await readWorkerState(this.opts.runtime, record.containerId)
    if (state) {
      record.createdAt = new Date(state.createdAt)
      record.ttlSeconds = state.ttlSeconds
      record.idleSeconds = state.idleSeconds
      record.lastActiveAt = new Date(state.lastActiveAt ?? state.createdAt)
      record.persistedActiveAt = record.lastActiveAt.getTime()
      if (state.labels) record.labels = state.labels
      if (state.env) record.env = state.env
      if (state.handedOut) delete record.pool
      if (state.allowedTools) record.allowedTools = state.allowedTools
      if (state.maxChildren !== undefined) record.maxChildren = state.maxChildren
      if (state.maxDepth !== undefined) record.maxDepth = state.maxDepth
    }
    // Without a record of activity, the idle clock starts when the spawner finds the worker.
    if (!state?.lastActiveAt && record.state === 'running') record.lastActiveAt = this.now()
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
      version: 1,
      createdAt: r.createdAt.toISOString(),
      ttlSeconds: r.ttlSeconds,
      idleSeconds: r.idleSeconds,
      lastActiveAt: r.lastActiveAt.toISOString(),
      labels: r.labels,
      env: r.env,
      handedOut: true,
      allowedTools: r.allowedTools,
      maxChildren: r.maxChildren,
      maxDepth: r.maxDepth,
    }
  }

  /** Writes the last activity now and then, so a restart keeps the idle deadline. */
  private persistActivity(record: WorkerRecord) {
    const every = this.opts.persistActivityMs ?? 30_000
    if (record.lastActiveAt.getTime() - record.persistedActiveAt < every) return
    record.persistedActiveAt = record.lastActiveAt.getTime()
    writeWorkerState(this.opts.runtime, record.containerId, this.stateOf(record)).catch((err) =>
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
    record.runningCommands++
    try {
      if (record.pausing) await record.pausing
      if (record.state === 'paused') await this.resume({ workerId: record.workerId })
    } catch (err) {
      record.runningCommands--
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
