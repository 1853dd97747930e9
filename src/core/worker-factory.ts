import { filesFor } from './create-files.ts'
import type { BuildWatcher } from './images.ts'
import type { CoreContext } from './context.ts'
import { LABELS } from './labels.ts'
import {
  assertConfigFiles,
  assertLifetime,
  assertRuntime,
  readHostFiles,
  type FileToWrite,
} from './preflight.ts'
import { resolvePlugins, type ResolvedPlugins } from './resolve.ts'
import type { ContainerSpec, PutFileOptions } from './runtime.ts'
import { assertSecrets, buildContainerSpec } from './spec.ts'
import { assertStartable } from './startable.ts'
import { assertChildMounts } from './sub-workers.ts'
import { newWorkerId, type WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'
import { orchestratorEnv, writeToken } from './worker-tokens.ts'
import { GATEWAY_PREFIX, WORKER_LOCAL_PORT, workerHostEnv, type Broker } from './gateway-access.ts'
import { resolveNetwork, type WorkerNetwork } from './network.ts'
import { egressListSchema, type ContainerNetwork, type WorkerConfig } from './config.ts'
import { workerPermissions } from './permission-setup.ts'

/** The parent a sub-worker is made under, as its spec needs it. */
type SpecParent = { workerId: string; depth: number; rootId: string }

/**
 * A container started from a checkpoint image instead of the worker's derived image: its files
 * are the checkpoint's, and what the service writes into a new worker (plugin files with the
 * worker's own credential, token, state file) is written over them.
 */
export interface StartFrom {
  /** The checkpoint image. */
  image: string
  /** The derived image the checkpoint was made from (the record's `image`). */
  workerImage: string
  /** Labels over the spec's (e.g. blanking the checkpoint's own). */
  labels: Record<string, string>
  /** Env given to every command (a pool worker's config env), without the service's variables. */
  env: Record<string, string>
}

/** A config checked and its container spec built, with nothing started yet. */
export interface Prepared {
  resolved: ResolvedPlugins
  spec: ContainerSpec
  workerId: string
  createdAt: Date
}

/**
 * Makes worker containers, for `create` and for the warm pools alike: checks a config and
 * builds its spec (`prepare`, `check`), builds or reuses its image and starts it
 * (`startContainer`), and writes the files, token and state a worker starts with.
 */
export class WorkerFactory {
  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
  ) {}

  /** Validates a config and prepares its spec without starting anything (pools use it). */
  async prepare(
    config: WorkerConfig,
    workerId = newWorkerId(),
    createdAt = this.ctx.now(),
    parent?: SpecParent,
  ): Promise<Prepared> {
    const { opts } = this.ctx
    assertStartable(config)
    const resolved = resolvePlugins(opts.plugins(), config)
    assertSecrets(resolved.ordered, opts.hostEnv)
    const net = resolveNetwork(config.network, this.ctx.policy.network)
    const spec = buildContainerSpec(config, resolved.ordered, {
      workerId,
      image: opts.baseImage,
      hostEnv: opts.hostEnv,
      net,
      broker: await this.broker(workerId, net.network),
      now: createdAt,
      policy: this.ctx.policy,
      ...(parent ? { parent } : {}),
    })
    return { resolved, spec, workerId, createdAt }
  }

  /**
   * Everything a create checks before it starts anything: lifetime, plugins, spec, a
   * sub-worker's mounts against its parent's, files, host files and the container runtime.
   */
  async check(
    config: WorkerConfig,
    parent?: WorkerRecord,
    id?: string,
  ): Promise<Prepared & { hostFiles: FileToWrite[]; asks: boolean }> {
    assertLifetime(config.ttlSeconds, this.ctx.policy)
    const prepared = await this.prepare(
      config,
      id,
      undefined,
      parent
        ? { workerId: parent.workerId, depth: parent.depth, rootId: parent.rootId }
        : undefined,
    )
    if (parent) assertChildMounts(parent, prepared.spec.mounts)
    const asks =
      workerPermissions(
        this.ctx,
        config,
        prepared.resolved.agent,
        { workerId: prepared.workerId, network: prepared.spec.network },
        parent,
      ) !== undefined
    assertConfigFiles(config, this.ctx.maxFileBytes)
    const hostFiles = await readHostFiles(this.ctx, prepared.resolved.ordered)
    // Hooks and tweaks were validated by prepare(); nothing is built or started before this.
    if (prepared.spec.runtime)
      await assertRuntime(this.ctx, prepared.spec.runtime, prepared.resolved.ordered)
    return { ...prepared, hostFiles, asks }
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
    from?: StartFrom,
    build?: BuildWatcher,
  ): Promise<{ record: WorkerRecord; built: boolean }> {
    const { opts, runtime } = this.ctx
    const image = from
      ? { tag: from.image, built: false }
      : await this.ctx.images.resolve(opts.baseImage, resolved.ordered, build)
    const parentId = spec.labels[LABELS.parent]
    const parent = parentId ? this.store.held(parentId) : undefined
    const net = netOf(spec)
    const broker = await this.broker(workerId, net.network)
    const hostEnv = workerHostEnv(resolved.ordered, config.env, opts.hostEnv, broker)
    // Told the environment the worker's plugin files see (the gateway's URLs, never the real
    // keys): the hook files are readable by the agent.
    const asking = extraLabels[LABELS.pool]
      ? undefined
      : workerPermissions(
          this.ctx,
          config,
          resolved.agent,
          { workerId, network: spec.network },
          parent,
          hostEnv,
        )
    const orchestrator = await this.orchestratorEnv(
      workerId,
      { ...config, network: spec.network ?? 'isolated', permit: asking !== undefined },
      createdAt,
    )
    const files = [
      ...(asking?.files ?? []),
      ...filesFor(config, workerId, resolved.ordered, hostFiles, hostEnv),
    ]
    // The token is in the env; its file is written only when `update` renews it (the CLI
    // prefers the file). Nothing else to write after the start: the labels hold the state, and
    // the create is done once the container runs (no state-file write on the way, see `restore`).
    // A checkpoint holds another worker's token and state file (or this one's, older): both are
    // always written over.
    // The config's env goes into the state file too, so a restore or fork after a restart of
    // the service starts with it again (see `configOf`). A worker that asks keeps its rules there.
    const writesAfterStart =
      files.length > 0 ||
      from !== undefined ||
      Object.keys(config.env).length > 0 ||
      asking !== undefined
    const full: ContainerSpec = {
      ...spec,
      env: { ...spec.env, ...asking?.env, ...orchestrator },
      image: image.tag,
      extraHosts: opts.extraHosts ?? ['host.docker.internal:host-gateway'],
      ...(opts.tokens?.url ? { workerApi: opts.tokens.url } : {}),
      labels: {
        ...spec.labels,
        ...extraLabels,
        ...from?.labels,
        ...(opts.instance ? { [LABELS.instance]: opts.instance } : {}),
        ...(writesAfterStart ? {} : { [LABELS.stateInLabels]: 'true' }),
      },
    }
    this.ctx.logger.info('worker creating', {
      workerId,
      agent: config.agent,
      capabilities: config.capabilities,
      image: image.tag,
    })
    onEffect?.()
    const containerId = await runtime.run(full)
    const record: WorkerRecord = {
      workerId,
      containerId,
      agent: config.agent,
      capabilities: config.capabilities,
      image: from ? from.workerImage : image.tag,
      workdir: config.workdir,
      ...configured(config),
      createdAt,
      lastActiveAt: createdAt,
      persistedActiveAt: createdAt.getTime(),
      state: 'running',
      runningCommands: 0,
      env: from ? from.env : {},
      ...(opts.instance ? { instance: opts.instance } : {}),
      ...(extraLabels[LABELS.pool] ? { pool: extraLabels[LABELS.pool] } : {}),
      ...(full.labels[LABELS.parent] ? { parentId: full.labels[LABELS.parent] } : {}),
      depth: Number(full.labels[LABELS.depth] ?? 0),
      rootId: full.labels[LABELS.root] ?? workerId,
      resources: config.resources,
      mounts: full.mounts,
      ...net,
      ...(config.budget ? { budget: config.budget } : {}),
      ...(asking ? { permissions: asking.state } : {}),
    }
    if (!writesAfterStart) return { record, built: image.built }
    try {
      await this.writeFiles(containerId, files)
      if (from) await writeToken(runtime, containerId, orchestrator)
      // Written last: a container without it never finished its create and is removed at restart.
      await this.store.writeState(record)
    } catch (err) {
      await runtime.remove(containerId).catch(() => undefined)
      throw err
    }
    return { record, built: image.built }
  }

  /**
   * Turns a warm pool container into a worker made from `config`: its files, token and state
   * are written, then `record` becomes the worker. A failed hand-out removes the container.
   */
  async handOut(
    record: WorkerRecord,
    config: WorkerConfig,
    resolved: ResolvedPlugins,
    hostFiles: FileToWrite[],
    onEffect?: () => void,
  ) {
    const now = this.ctx.now()
    const orchestrator = await this.orchestratorEnv(
      record.workerId,
      { ...config, network: record.network },
      now,
    )
    // The container's network is the pool's; what its proxy lets through is the config's.
    const net = resolveNetwork(config.network, this.ctx.policy.network)
    const broker = await this.broker(record.workerId, record.network)
    const hostEnv = workerHostEnv(resolved.ordered, config.env, this.ctx.opts.hostEnv, broker)
    const handedOut: WorkerRecord = {
      ...record,
      ...configured(config),
      env: { ...config.env, ...orchestrator },
      createdAt: now,
      lastActiveAt: now,
      persistedActiveAt: now.getTime(),
      ...(net.egress ? { egress: net.egress } : {}),
      ...(config.budget ? { budget: config.budget } : {}),
    }
    delete handedOut.pool
    if (!net.egress) delete handedOut.egress
    onEffect?.()
    try {
      await this.writeFiles(
        record.containerId,
        filesFor(config, record.workerId, resolved.ordered, hostFiles, hostEnv),
      )
      // At once: either failing removes the container, and neither depends on the other.
      await Promise.all([
        writeToken(this.ctx.runtime, record.containerId, orchestrator),
        this.store.writeState(handedOut),
      ])
    } catch (err) {
      this.store.forget(record.workerId)
      await this.ctx.runtime.remove(record.containerId).catch(() => undefined)
      throw err
    }
    delete record.pool
    Object.assign(record, handedOut)
    this.store.keep(record, resolved.agent)
  }

  /** The worker's credential and where it finds the gateway (see `workerHostEnv`). */
  private async broker(workerId: string, network: ContainerNetwork): Promise<Broker> {
    const base =
      network === 'open'
        ? (this.ctx.opts.tokens?.url ?? '')
        : `http://127.0.0.1:${WORKER_LOCAL_PORT}`
    const credential = await this.ctx.workerKeys.mint(workerId)
    return { credential, urlOf: (plugin) => `${base}${GATEWAY_PREFIX}/${plugin}` }
  }

  /** ORCHESTRATOR_* for a worker whose token lives from `from` for the config's TTL. */
  orchestratorEnv(
    workerId: string,
    config: {
      allowedTools: string[]
      ttlSeconds: number
      network?: ContainerNetwork
      permit?: boolean
    },
    from: Date,
  ) {
    return orchestratorEnv(this.ctx.opts.tokens, workerId, config, from)
  }

  /**
   * A failed create may have left a container behind (started, then the engine's answer was
   * lost or a file write failed): whatever carries the new worker's id goes. The create's own
   * error is what the caller gets, so a failure here is only logged.
   */
  async removeLeftovers(workerId: string) {
    const { runtime, logger } = this.ctx
    try {
      for (const c of await runtime.list({ [LABELS.workerId]: workerId })) {
        await runtime.remove(c.id).catch((err: unknown) =>
          logger.warn('container of a failed create not removed', {
            workerId,
            containerId: c.id,
            error: String(err),
          }),
        )
      }
    } catch (err) {
      logger.warn('containers of a failed create not listed', { workerId, error: String(err) })
    }
  }

  /** Plugin files (CLI config, host files) first, then the config's own files, which may override them. */
  private async writeFiles(
    containerId: string,
    files: readonly { path: string; content: Uint8Array; opts: PutFileOptions }[],
  ) {
    for (const file of files)
      await this.ctx.runtime.putFile(containerId, file.path, file.content, file.opts)
  }
}

/** What a config decides of a worker that a warm pool container takes on at hand-out too. */
const configured = (config: WorkerConfig) => ({
  labels: config.labels,
  ttlSeconds: config.ttlSeconds,
  idleSeconds: config.idleSeconds,
  allowedTools: config.allowedTools,
  maxChildren: config.maxChildren,
  maxDepth: config.maxDepth,
  spawnablePlugins: config.spawnablePlugins,
  ...(config.checkpoint ? { checkpoint: config.checkpoint } : {}),
  ...(Object.keys(config.env).length > 0 ? { configEnv: config.env } : {}),
})

/** The network a spec was built with, read back from its labels (the service wrote them). */
const netOf = (spec: ContainerSpec): WorkerNetwork => {
  const network = spec.network ?? 'isolated'
  const label = spec.labels[LABELS.egress]
  if (!label) return { network }
  return { network, egress: egressListSchema.parse(JSON.parse(label)) }
}
