import {
  blankLabels,
  checkpointOf,
  checkpointTag,
  CHECKPOINT_LABELS,
  configOf,
  MAX_CHECKPOINTS,
  newCheckpointId,
  turnsOf,
  WORKER_ENV,
  type Checkpoint,
} from './checkpoint-images.ts'
import type { CoreContext } from './context.ts'
import { ConflictError, ForbiddenError, NotFoundError, SpawnerError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import { LABELS } from './labels.ts'
import { readHostFiles } from './preflight.ts'
import type { CommitOptions } from './runtime.ts'
import type { WorkerFactory } from './worker-factory.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

export type { Checkpoint } from './checkpoint-images.ts'

/**
 * Checkpoints of workers: `docker commit` of the container (its files, the agent CLI's session
 * files in the home directory among them; not memory or processes), listed, deleted, restored.
 * A checkpoint keeps nothing that authorizes its worker: the service's variables are blanked in
 * the image's env, the worker's credential is redacted from every variable, and the token and
 * state files it holds are written over whenever a container starts from it. Forks are in
 * forks.ts. Checkpoints go with their worker (`dropAll`), and ones left behind by a worker that
 * is gone are swept (`sweep`, at start and after each delete).
 */
export class Checkpoints {
  /** One checkpoint, restore or delete of a worker at a time. */
  private readonly locks = new Map<string, Promise<unknown>>()
  /**
   * Workers known to have checkpoints (taken here, or found by `sweep`): deleting any other
   * worker lists no images, which the engine answers slowly when it holds many.
   */
  private readonly holders = new Set<string>()
  /** When the last checkpoint was taken (ms). */
  private lastTaken = 0

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly factory: WorkerFactory,
  ) {}

  /** Takes a checkpoint of the worker now (`auto`: one of its per-turn ones). */
  async take(workerId: string, hooks: CommandHooks = {}, auto = false): Promise<Checkpoint> {
    const record = await this.store.get(workerId)
    return this.locked(record.workerId, () => this.commit(record, hooks, auto))
  }

  private async commit(record: WorkerRecord, hooks: CommandHooks, auto: boolean) {
    const { runtime } = this.ctx
    const info = await runtime.inspect(record.containerId)
    if (!info) throw new NotFoundError(`no worker '${record.workerId}'`, 'worker_not_found')
    if (!auto && this.holders.has(record.workerId)) {
      // Per-turn ones are bounded by their `keep`; these only by this.
      const held = (await this.of(record.workerId)).filter((c) => !c.auto).length
      if (held >= MAX_CHECKPOINTS)
        throw new ForbiddenError(
          `worker '${record.workerId}' already has ${held} checkpoints (at most ${MAX_CHECKPOINTS}); delete one first`,
          'quota_exceeded',
        )
    }
    const checkpointId = newCheckpointId()
    // Strictly increasing, so that checkpoints sort in the order they were taken.
    this.lastTaken = Math.max(this.ctx.now().getTime(), this.lastTaken + 1)
    const createdAt = new Date(this.lastTaken).toISOString()
    const labels: Record<string, string> = {
      ...blankLabels(info.labels),
      [CHECKPOINT_LABELS.id]: checkpointId,
      [CHECKPOINT_LABELS.workerId]: record.workerId,
      [CHECKPOINT_LABELS.createdAt]: createdAt,
      [CHECKPOINT_LABELS.turns]: String(turnsOf(record)),
      [CHECKPOINT_LABELS.transcriptTurn]: String(await this.lastTranscriptTurn(record.workerId)),
      [CHECKPOINT_LABELS.workerImage]: record.image,
      ...(auto ? { [CHECKPOINT_LABELS.auto]: 'true' } : {}),
      ...(this.ctx.opts.instance ? { [CHECKPOINT_LABELS.instance]: this.ctx.opts.instance } : {}),
    }
    hooks.onEffect?.()
    this.holders.add(record.workerId)
    // The state is written current (into the image too where the container holds it), and with
    // it the config's env: a worker whose create wrote none (`stateInLabels`) keeps it from now
    // on, across restarts too.
    await this.store.writeState(record)
    const started = Date.now()
    const image = await runtime.commit(
      record.containerId,
      checkpointTag(record.workerId, checkpointId),
      await this.commitOptions(record, labels),
    )
    this.ctx.logger.info('checkpoint taken', {
      workerId: record.workerId,
      checkpointId,
      sizeBytes: image.sizeBytes,
      ms: Date.now() - started,
    })
    return checkpointOf(image)!
  }

  /** The number of the worker's last transcript turn (0 when none, or the store fails). */
  private async lastTranscriptTurn(workerId: string): Promise<number> {
    try {
      return (await this.ctx.transcripts.turns(workerId)).at(-1)?.n ?? 0
    } catch (err) {
      this.ctx.logger.warn('transcript not read for a checkpoint', { workerId, error: String(err) })
      return 0
    }
  }

  /** What the image keeps of the container's config: nothing that authorizes the worker. */
  private async commitOptions(
    record: WorkerRecord,
    labels: Record<string, string>,
  ): Promise<CommitOptions> {
    const credential = await this.ctx.workerKeys.mint(record.workerId)
    const token = record.env.ORCHESTRATOR_TOKEN
    return {
      labels,
      env: Object.fromEntries(WORKER_ENV.map((name) => [name, ''])),
      redact: [credential, ...(token ? [token] : [])],
    }
  }

  /** The worker's checkpoints, oldest first. */
  async list(workerId: string): Promise<Checkpoint[]> {
    const record = await this.store.get(workerId)
    return this.of(record.workerId)
  }

  private async of(workerId: string): Promise<Checkpoint[]> {
    const images = await this.ctx.runtime.listImages({ [CHECKPOINT_LABELS.workerId]: workerId })
    const found = images
      .flatMap((i) => checkpointOf(i) ?? [])
      .filter((c) => c.workerId === workerId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.image.localeCompare(b.image))
    if (found.length > 0) this.holders.add(workerId)
    return found
  }

  /** One checkpoint of the worker; NotFoundError `checkpoint_not_found` when it has no such one. */
  async find(workerId: string, checkpointId: string): Promise<Checkpoint> {
    const image = await this.ctx.runtime.checkpointImage(checkpointTag(workerId, checkpointId))
    const found = image && checkpointOf(image)
    if (!found || found.workerId !== workerId || found.checkpointId !== checkpointId) {
      throw new NotFoundError(
        `worker '${workerId}' has no checkpoint '${checkpointId}'`,
        'checkpoint_not_found',
      )
    }
    return found
  }

  /** Deletes a checkpoint; one a restored or forked container runs from is `checkpoint_in_use`. */
  async remove(workerId: string, checkpointId: string, hooks: CommandHooks = {}) {
    const record = await this.store.get(workerId)
    return this.locked(record.workerId, async () => {
      const found = await this.find(record.workerId, checkpointId)
      hooks.onEffect?.()
      await this.ctx.runtime.removeImage(found.image).catch((err: unknown) => {
        if (!(err instanceof ConflictError)) throw err
        throw new ConflictError(
          `checkpoint '${checkpointId}' is the image of a worker restored or forked from it; delete it after them`,
          'checkpoint_in_use',
        )
      })
      return { workerId: record.workerId, checkpointId, deleted: true as const }
    })
  }

  /**
   * Puts the worker back to a checkpoint: a new container from it replaces the worker's, under
   * the same worker id, with a new token, and the worker's current state (deadlines, spend,
   * budget) written over the checkpoint's. Commands that arrive meanwhile wait for it; a command
   * running when it is asked makes it a ConflictError `worker_busy`.
   */
  async restore(workerId: string, checkpointId: string, hooks: CommandHooks = {}) {
    const record = await this.store.get(workerId)
    return this.locked(record.workerId, async () => {
      const found = await this.find(record.workerId, checkpointId)
      // Checked after the last wait and marked at once: a command that started meanwhile would
      // run on in the container this replaces.
      if (record.runningCommands > 0 || record.pausing) {
        throw new ConflictError(
          `worker '${record.workerId}' is running a command; restore it when it is idle`,
          'worker_busy',
        )
      }
      let done!: () => void
      // Commands wait on `pausing` (see ActivityGuard.active), then run in the new container.
      record.pausing = new Promise<void>((resolve) => (done = resolve))
      try {
        await this.replace(record, found, hooks)
      } finally {
        delete record.pausing
        done()
      }
      this.ctx.logger.info('worker restored', { workerId: record.workerId, checkpointId })
      this.ctx.emit(
        { type: 'status', workerId: record.workerId, state: 'running', reason: 'request' },
        hooks.requestId,
      )
      return { workerId: record.workerId, checkpointId, state: record.state, turns: found.turns }
    })
  }

  private async replace(record: WorkerRecord, found: Checkpoint, hooks: CommandHooks) {
    const { runtime } = this.ctx
    const config = configOf(record)
    const parent = record.parentId
      ? { workerId: record.parentId, depth: record.depth - 1, rootId: record.rootId }
      : undefined
    const prepared = await this.factory.prepare(config, record.workerId, record.createdAt, parent)
    const hostFiles = await readHostFiles(this.ctx, prepared.resolved.ordered)
    // Both containers exist for a moment: the new one needs a name of its own.
    const spec = {
      ...prepared.spec,
      name: `${prepared.spec.name}-${found.checkpointId}-${Date.now()}`,
    }
    const { record: fresh } = await this.factory.startContainer(
      config,
      prepared.resolved,
      record.workerId,
      record.createdAt,
      spec,
      { [LABELS.turnsBase]: String(found.turns), [LABELS.replaces]: record.containerId },
      hostFiles,
      hooks.onEffect,
      {
        image: found.image,
        workerImage: record.image,
        labels: blankCheckpointLabels,
        env: record.env,
      },
    )
    if (!this.store.has(record.workerId)) {
      // Deleted while the container started: nothing would ever remove it.
      await runtime.remove(fresh.containerId).catch(() => undefined)
      throw new NotFoundError(`no worker '${record.workerId}'`, 'worker_not_found')
    }
    const old = record.containerId
    record.containerId = fresh.containerId
    record.state = 'running'
    record.turns = { base: found.turns, promptsAtBase: record.usage?.prompts ?? 0 }
    try {
      // The worker's own state, not the fresh one startContainer wrote: spend is never undone.
      await this.store.writeState(record)
    } catch (err) {
      record.containerId = old
      await runtime.remove(fresh.containerId).catch(() => undefined)
      throw err
    }
    await runtime.remove(old).catch((err: unknown) =>
      this.ctx.logger.warn('replaced container not removed', {
        workerId: record.workerId,
        containerId: old,
        error: String(err),
      }),
    )
  }

  /**
   * After a prompt: a checkpoint when the worker's config asks for one per turn, then the
   * oldest automatic ones beyond its `keep` deleted. Failures are logged, never the prompt's.
   */
  async afterTurn(record: WorkerRecord): Promise<void> {
    const policy = record.checkpoint
    if (!policy || !this.store.has(record.workerId)) return
    try {
      await this.locked(record.workerId, async () => {
        await this.commit(record, {}, true)
        const auto = (await this.of(record.workerId)).filter((c) => c.auto)
        for (const old of auto.slice(0, Math.max(0, auto.length - policy.keep))) {
          await this.ctx.runtime.removeImage(old.image).catch((err: unknown) => {
            // A restored or forked worker runs from it: it goes once they are gone.
            if (!(err instanceof ConflictError)) throw err
          })
        }
      })
    } catch (err) {
      this.ctx.logger.warn('per-turn checkpoint failed', {
        workerId: record.workerId,
        error: err instanceof SpawnerError ? err.message : String(err),
      })
    }
  }

  /**
   * Removes a deleted worker's checkpoints (those still in use stay for `sweep`); when the worker
   * ran from a checkpoint (a fork or a restore), checkpoints it kept in use may be free now.
   */
  async dropAll(record: WorkerRecord): Promise<void> {
    if (this.holders.delete(record.workerId)) await this.removeAll(await this.of(record.workerId))
    if (record.turns) await this.sweep()
  }

  /**
   * Removes checkpoints of this instance whose worker is gone, as far as no container runs from
   * them. Returns how many were removed and how many stay because containers use them.
   */
  async sweep(): Promise<{ removed: number; inUse: number }> {
    const { runtime, opts } = this.ctx
    const images = await runtime.listImages({ [CHECKPOINT_LABELS.id]: undefined })
    const mine = images
      .filter((i) => (i.labels[CHECKPOINT_LABELS.instance] ?? '') === (opts.instance ?? ''))
      .flatMap((i) => checkpointOf(i) ?? [])
    const live = new Set(
      (await runtime.list({ [LABELS.managed]: 'true' })).map((c) => c.labels[LABELS.workerId]),
    )
    for (const c of mine) if (live.has(c.workerId)) this.holders.add(c.workerId)
    return this.removeAll(mine.filter((c) => !live.has(c.workerId)))
  }

  private async removeAll(checkpoints: Checkpoint[]) {
    let removed = 0
    let inUse = 0
    for (const c of checkpoints) {
      try {
        await this.ctx.runtime.removeImage(c.image)
        removed++
      } catch (err) {
        if (err instanceof ConflictError) inUse++
        else this.ctx.logger.warn('checkpoint not removed', { image: c.image, error: String(err) })
      }
    }
    if (removed + inUse > 0) this.ctx.logger.info('checkpoints swept', { removed, inUse })
    return { removed, inUse }
  }

  private locked<T>(workerId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(workerId) ?? Promise.resolve()
    const run = before.catch(() => undefined).then(fn)
    const tail = run.catch(() => undefined)
    this.locks.set(workerId, tail)
    void tail.then(() => {
      if (this.locks.get(workerId) === tail) this.locks.delete(workerId)
    })
    return run
  }
}

/** A container from a checkpoint does not carry the checkpoint's own labels. */
export const blankCheckpointLabels = blankLabels(
  Object.fromEntries(Object.values(CHECKPOINT_LABELS).map((k) => [k, ''])),
)
