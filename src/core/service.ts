import type { z } from 'zod'
import { ActivityGuard } from './activity.ts'
import { workerConfigSchema } from './config.ts'
import { coreContext, type CoreContext, type WorkerServiceOptions } from './context.ts'
import { Creation } from './creation.ts'
import { buildImage } from './image-builds.ts'
import { deleteWorker, type DeleteParts } from './delete-worker.ts'
import { NotFoundError } from './errors.ts'
import type { EventBus } from './events.ts'
import type { ChangeReason, CommandHooks } from './hooks.ts'
import type { ImageResolver } from './images.ts'
import type { Measures } from './measures.ts'
import { LABELS } from './labels.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import type { WorkerPolicy } from './policy.ts'
import type { PoolHost, PoolSource } from './pool-host.ts'
import type { ContainerInfo, ContainerRuntime, FileChange, LogLine } from './runtime.ts'
import type * as S from './schemas.ts'
import { DEFAULT_WATCH_MS } from './schemas.ts'
import { sendCommand, type SendCommandParts } from './send-command.ts'
import { WorkerTree } from './sub-workers.ts'
import { BudgetLedger } from './budget-ledger.ts'
import { ModelAccess } from './model-access.ts'
import { PermissionDesk } from './permission-desk.ts'
import type * as P from './permission-schemas.ts'
import { updateWorker, type UpdateParts } from './update-worker.ts'
import { parseInput } from './validation.ts'
import { WorkerFactory } from './worker-factory.ts'
import { WorkerDirs } from './worker-dirs.ts'
import { WorkerWatches } from './worker-watches.ts'
import { WorkerFiles } from './worker-files.ts'
import {
  recordFromContainer,
  stateFromContainer,
  toStatus,
  type WorkerRecord,
} from './worker-record.ts'
import { WorkerStore } from './worker-store.ts'
import { Checkpoints } from './checkpoints.ts'
import { forkWorker } from './forks.ts'

export type { WorkerServiceOptions } from './context.ts'
export type { ChangeReason, CommandHooks } from './hooks.ts'
export { TOKEN_FILE } from './worker-tokens.ts'

type In<T extends z.ZodType> = z.output<T>
type Out<T extends z.ZodType> = z.output<T>

/**
 * Everything a worker can be asked to do. Adapters (HTTP, Redis) call it through the command
 * catalog; it talks to containers only through the ContainerRuntime. It composes the parts
 * that do the work: the store (records and their signed state), the factory (containers), the
 * activity guard (running, paused, command limits), the worker tree (sub-workers and quotas)
 * and the create flow; warm pools plug in through `PoolHost`.
 */
export class WorkerService implements PoolHost {
  readonly images: ImageResolver
  readonly events: EventBus
  /** Durations, outcomes and pool hits, for exporters (see `measures.ts`). */
  readonly measures: Measures
  readonly policy: WorkerPolicy
  private readonly ctx: CoreContext
  private readonly store: WorkerStore
  private readonly factory: WorkerFactory
  private readonly guard: ActivityGuard
  private readonly tree: WorkerTree
  /** Model spend and budgets (the gateway records calls here). */
  readonly ledger: BudgetLedger
  /** The model gateway's way in: credentials, routes, recorded calls. */
  readonly models: ModelAccess
  private readonly creation: Creation
  private readonly files: WorkerFiles
  private readonly dirs: WorkerDirs
  /** File watches (`watch`), bounded per worker, per caller and per instance. */
  readonly watches: WorkerWatches
  /** Checkpoints of workers: taken, listed, deleted, restored, forked from. */
  readonly checkpoints: Checkpoints
  /** Workers' permission requests and their answers. */
  private readonly desk: PermissionDesk
  /** The parts, for the commands written as functions of them. */
  private readonly parts: SendCommandParts & UpdateParts & DeleteParts

  constructor(opts: WorkerServiceOptions) {
    const ctx = (this.ctx = coreContext(opts))
    this.images = ctx.images
    this.events = ctx.events
    this.measures = ctx.measures
    this.policy = ctx.policy
    this.store = new WorkerStore(ctx)
    this.factory = new WorkerFactory(ctx, this.store)
    this.guard = new ActivityGuard(ctx, this.store)
    this.ledger = new BudgetLedger(ctx, this.store)
    this.tree = new WorkerTree(ctx, this.store, this.ledger)
    this.models = new ModelAccess(ctx, this.store, this.ledger)
    this.creation = new Creation(ctx, this.store, this.factory, this.tree)
    this.files = new WorkerFiles(ctx, this.store, this.guard)
    this.dirs = new WorkerDirs(ctx, this.store, this.guard)
    this.watches = new WorkerWatches(ctx, this.store, this.guard, this.dirs)
    this.checkpoints = new Checkpoints(ctx, this.store, this.factory)
    this.desk = new PermissionDesk(ctx, this.store)
    this.parts = {
      checkpoints: this.checkpoints,
      ctx,
      store: this.store,
      guard: this.guard,
      tree: this.tree,
      factory: this.factory,
      ledger: this.ledger,
    }
  }

  get runtime(): ContainerRuntime {
    return this.ctx.runtime
  }

  /**
   * Creates a worker; with `by`, a sub-worker of that worker, never wider than it. Counts hold
   * under concurrency: MAX_WORKERS is reserved before the first await, and a tree's quotas are
   * checked and reserved under that tree's lock.
   */
  create(
    input: In<typeof S.createInput>,
    hooks: CommandHooks = {},
    by?: { parentId: string },
  ): Promise<Out<typeof S.createOutput>> {
    return this.creation.create(input.config, hooks, by?.parentId)
  }

  /** Builds (or finds) the image of a plugin set ahead of its first create. */
  buildImage(
    input: In<typeof S.buildImageInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.buildImageOutput>> {
    return buildImage(this.ctx, input, hooks)
  }

  /** Validates a config and prepares its spec without starting anything (pools use it). */
  prepare: WorkerFactory['prepare'] = (...args) => this.factory.prepare(...args)

  /** Builds or reuses the image, starts the container and writes the config's files. */
  startContainer: WorkerFactory['startContainer'] = (...args) =>
    this.factory.startContainer(...args)

  /** Registers a container that waits in a warm pool (not visible as a worker). */
  adoptPooled(record: WorkerRecord, agent: AgentPlugin) {
    this.store.keep(record, agent)
  }

  /** Makes `create` take matching containers from `pool` first (undefined: from none). */
  usePool(pool: PoolSource | undefined) {
    this.pool = pool
    this.creation.usePool(pool)
  }

  private pool: PoolSource | undefined

  /** The warm pools and how full each is (none without WARM_POOLS). */
  pools(): Out<typeof S.poolsOutput> {
    return { pools: this.pool?.levels() ?? [] }
  }

  sendCommand(
    input: In<typeof S.sendCommandInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.sendCommandOutput>> {
    return sendCommand(this.parts, input, hooks)
  }

  sendFile(
    input: In<typeof S.sendFileInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.sendFileOutput>> {
    return this.files.sendFile(input, hooks)
  }

  /** Writes raw bytes (the HTTP PUT route's body) into a worker. */
  putBytes(recordOrId: WorkerRecord | string, rawPath: string, bytes: Uint8Array, mode?: number) {
    return this.files.putBytes(recordOrId, rawPath, bytes, mode)
  }

  /** Reads raw bytes out of a worker. */
  getBytes(workerId: string, rawPath: string): Promise<{ path: string; bytes: Uint8Array }> {
    return this.files.getBytes(workerId, rawPath)
  }

  readFile(input: In<typeof S.readFileInput>): Promise<Out<typeof S.readFileOutput>> {
    return this.files.readFile(input)
  }

  /** Lists a directory in a worker, as its user, under its roots. */
  listFiles(input: In<typeof S.listFilesInput>): Promise<Out<typeof S.listFilesOutput>> {
    return this.dirs.list(input)
  }

  /**
   * Watches a directory in a worker, as its user, under its roots: each change goes to
   * `onChange` until `hooks.signal` aborts, `durationMs` runs out or the worker goes.
   */
  watch(
    input: In<typeof S.watchInput>,
    hooks: CommandHooks,
    onChange: (change: FileChange) => void,
  ): Promise<Out<typeof S.watchOutput>> {
    return this.watches.watch(input, {
      ...(hooks.caller ? { caller: hooks.caller } : {}),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      hooks: {
        ...(hooks.onEffect ? { onEffect: hooks.onEffect } : {}),
        ...(hooks.requestId ? { requestId: hooks.requestId } : {}),
      },
      onChange,
    })
  }

  /**
   * A watch that answers once: its changes are published as `file_changed` events of the
   * worker (Redis channels and event log, `/v1/events`) for `durationMs` (default
   * DEFAULT_WATCH_MS), then it answers how many there were.
   */
  watchEvents(
    input: In<typeof S.watchInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.watchOutput>> {
    const durationMs = input.durationMs ?? DEFAULT_WATCH_MS
    return this.watch({ ...input, durationMs }, hooks, (change) =>
      this.ctx.emit(
        {
          type: 'file_changed',
          workerId: input.workerId,
          change: change.type,
          ...(change.path !== undefined ? { path: change.path } : {}),
          ...(change.dir !== undefined ? { dir: change.dir } : {}),
        },
        hooks.requestId,
      ),
    )
  }

  async status(input: { workerId: string }): Promise<Out<typeof S.statusOutput>> {
    const record = await this.get(input.workerId)
    const info = await this.runtime.inspect(record.containerId)
    if (!info) {
      this.store.forget(record.workerId)
      throw new NotFoundError(`no worker '${input.workerId}'`, 'worker_not_found')
    }
    record.state = stateFromContainer(info.state)
    this.desk.watch(record)
    return {
      ...toStatus(record, this.ledger.treeSpend(record.workerId)),
      permissions: this.desk.view(record),
    }
  }

  async logs(input: In<typeof S.logsInput>): Promise<Out<typeof S.logsOutput>> {
    const record = await this.get(input.workerId)
    const { lines, truncated } = await this.runtime.logs(record.containerId, logRange(input))
    return { workerId: record.workerId, lines, ...(truncated ? { truncated } : {}) }
  }

  /** Streams log lines until `signal` aborts or the container stops. */
  async followLogs(
    input: In<typeof S.logsInput>,
    onLine: (line: LogLine) => void,
    signal: AbortSignal,
  ) {
    const record = await this.get(input.workerId)
    await this.runtime.followLogs(record.containerId, logRange(input), onLine, signal)
  }

  pause(
    input: { workerId: string },
    hooks: CommandHooks = {},
    reason: ChangeReason = 'request',
  ): Promise<Out<typeof S.stateOutput>> {
    return this.guard.pause(input.workerId, hooks, reason)
  }

  resume(
    input: { workerId: string },
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.stateOutput>> {
    return this.guard.resume(input.workerId, hooks)
  }

  /**
   * Changes a worker's TTL or idle time. The lifetime never passes MAX_TTL_SECONDS, a
   * sub-worker's never passes its parent's, and a worker cannot lengthen its own.
   */
  update(
    input: In<typeof S.updateInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.statusOutput>> {
    return updateWorker(this.parts, input, hooks)
  }

  /** Deletes a worker after its sub-workers, with everything below them. */
  delete(
    input: { workerId: string },
    hooks: CommandHooks = {},
    reason: ChangeReason = 'request',
  ): Promise<Out<typeof S.deleteOutput>> {
    return deleteWorker(this.parts, input, hooks, reason)
  }

  /** Takes a checkpoint of the worker's files (and so of its agent's session). */
  async checkpoint(
    input: In<typeof S.workerRefInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.checkpointOutput>> {
    return this.checkpoints.take(input.workerId, hooks)
  }

  async listCheckpoints(
    input: In<typeof S.workerRefInput>,
  ): Promise<Out<typeof S.listCheckpointsOutput>> {
    return { workerId: input.workerId, checkpoints: await this.checkpoints.list(input.workerId) }
  }

  deleteCheckpoint(
    input: In<typeof S.checkpointRefInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.deleteCheckpointOutput>> {
    return this.checkpoints.remove(input.workerId, input.checkpointId, hooks)
  }

  /** Puts the worker back to a checkpoint (same id, a new container, its own credentials). */
  restoreCheckpoint(
    input: In<typeof S.checkpointRefInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.restoreOutput>> {
    return this.checkpoints.restore(input.workerId, input.checkpointId, hooks)
  }

  /** New workers from a checkpoint of this one (see `forkWorker`). */
  fork(input: In<typeof S.forkInput>, hooks: CommandHooks = {}): Promise<Out<typeof S.forkOutput>> {
    return forkWorker(
      {
        ctx: this.ctx,
        store: this.store,
        factory: this.factory,
        tree: this.tree,
        creation: this.creation,
        checkpoints: this.checkpoints,
      },
      input,
      hooks,
    )
  }

  /** Publishes a `response` event for the worker: how an agent talks back mid-task. */
  async respond(
    input: In<typeof S.respondInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof S.respondOutput>> {
    const record = await this.get(input.workerId)
    this.ctx.emit(
      { type: 'response', workerId: record.workerId, reply: { text: input.text, raw: null } },
      hooks.requestId,
    )
    return { workerId: record.workerId, published: true }
  }

  /**
   * A worker's turns, also once it is deleted (until retention prunes them). A worker that never
   * existed, or whose transcript is gone, is a 404.
   */
  async transcript(input: In<typeof S.transcriptInput>): Promise<Out<typeof S.transcriptOutput>> {
    const { workerId, sessionId, after = 0, limit } = input
    const all = await this.ctx.transcripts.turns(workerId, sessionId ? { sessionId } : {})
    if (all.length === 0 && !(await this.ctx.transcripts.owner(workerId))) {
      // A live worker that has not been prompted yet has an empty transcript.
      await this.get(workerId)
    }
    const later = all.filter((t) => t.n > after)
    const turns = later.slice(0, limit)
    const more = later.length > limit
    return { workerId, turns, ...(more ? { next: turns.at(-1)!.n } : {}) }
  }

  /**
   * A worker's own agent asks to run a tool: its policy decides at once, or the request waits
   * (up to `waitMs` here; the asker asks again with the same id) for an answer or its deadline.
   */
  requestPermission(
    input: In<typeof P.requestPermissionInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof P.requestPermissionOutput>> {
    return this.desk.request(input, hooks)
  }

  /** Allows or denies a waiting request (operators; a parent for its sub-workers that say so). */
  answerPermission(
    input: In<typeof P.answerPermissionInput>,
    hooks: CommandHooks = {},
  ): Promise<Out<typeof P.answerPermissionOutput>> {
    return this.desk.answer(input, hooks)
  }

  /** How a worker asks before tool calls, and its requests waiting for an answer. */
  listPermissions(input: { workerId: string }): Promise<Out<typeof P.listPermissionsOutput>> {
    return this.desk.list(input.workerId)
  }

  /** Marks a worker of this instance active now (a terminal's keystrokes or output). */
  touch(workerId: string) {
    const record = this.store.held(workerId)
    if (record) record.lastActiveAt = this.ctx.now()
  }

  /** Ids of the workers `workerId` spawned (from memory and from container labels). */
  childrenOf(workerId: string): Promise<string[]> {
    return this.tree.childrenOf(workerId)
  }

  /** True when `workerId` is `ancestorId` or was spawned, directly or not, by it. */
  isWithin(workerId: string, ancestorId: string): Promise<boolean> {
    return this.tree.isWithin(workerId, ancestorId)
  }

  async list(input: In<typeof S.listInput>): Promise<Out<typeof S.listOutput>> {
    const containers = await this.runtime.list({ ...input.labels, [LABELS.managed]: 'true' })
    const workers = containers.flatMap((info) => {
      const fresh = recordFromContainer(info)
      if (!fresh) return []
      const record = this.store.held(fresh.workerId) ?? fresh
      // Pool containers are nobody's workers until handed out.
      if (record.pool) return []
      record.state = stateFromContainer(info.state)
      return [toStatus(record, this.ledger.treeSpend(record.workerId))]
    })
    workers.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    return { workers }
  }

  plugins(): Out<typeof S.pluginsOutput> {
    const registry = this.ctx.opts.plugins()
    return {
      loadedAt: registry.loadedAt.toISOString(),
      plugins: registry.list(),
      errors: [...registry.errors],
    }
  }

  /** Finds a worker by id: from memory, else from container labels (e.g. after a restart). */
  get(workerId: string): Promise<WorkerRecord> {
    return this.store.get(workerId)
  }

  /** Takes over a worker of another instance (its owner is gone): this one now runs its deadlines. */
  adopt(workerId: string): Promise<WorkerRecord> {
    return this.store.adopt(workerId)
  }

  /** A record rebuilt from a container's labels and its signed state file (see `WorkerStore.restore`). */
  restore(info: ContainerInfo): Promise<WorkerRecord | undefined> {
    return this.store.restore(info)
  }

  /** Records held by this service (workers and pool containers). */
  records(): WorkerRecord[] {
    return this.store.records()
  }

  /** Keeps a restored record (recovery after a restart); its waiting permission requests time out here now. */
  track(record: WorkerRecord) {
    this.store.keep(record)
    this.desk.watch(record)
  }

  /** Validates a raw WorkerConfig (exposed for adapters that take it outside `create`). */
  parseConfig(raw: unknown) {
    return parseInput(workerConfigSchema, raw, 'worker config')
  }
}

const logRange = (input: In<typeof S.logsInput>) => ({
  ...(input.tail !== undefined ? { tail: input.tail } : {}),
  ...(input.since !== undefined ? { since: input.since } : {}),
})
