import type { z } from 'zod'
import type { WorkerConfig } from './config.ts'
import type { CoreContext } from './context.ts'
import { SpawnerError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import type { PoolSource } from './pool-host.ts'
import type * as S from './schemas.ts'
import type { WorkerTree } from './sub-workers.ts'
import type { WorkerFactory } from './worker-factory.ts'
import { newWorkerId, toStatus, type WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'
import { ancestorsOf } from './record-turn.ts'
import { checkResume, restoreSession, type CheckedResume } from './resume.ts'

type CreateOutput = z.output<typeof S.createOutput>

/**
 * The `create` command: a worker from a warm pool when one fits, else a fresh container; with a
 * parent, a sub-worker under the tree's quotas. MAX_WORKERS is reserved before the first await,
 * so it holds under concurrency.
 */
export class Creation {
  /** Creates under way (they count against MAX_WORKERS before their record exists). */
  private creating = 0
  /** Warm pools to take containers from (see `PoolHost.usePool`). */
  private pool: PoolSource | undefined

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly factory: WorkerFactory,
    private readonly tree: WorkerTree,
  ) {}

  /** Makes `create` take matching containers from `pool` first. */
  usePool(pool: PoolSource | undefined) {
    this.pool = pool
  }

  create(config: WorkerConfig, hooks: CommandHooks, parentId?: string): Promise<CreateOutput> {
    return this.reserve(1, async () => {
      const resume = await checkResume(this.ctx, config, parentId, (id, by) =>
        this.tree.isWithin(id, by),
      )
      let created: CreateOutput
      if (parentId === undefined) created = await this.createWorker(config, hooks)
      else {
        const workerId = newWorkerId()
        created = await this.tree.spawn(parentId, config, workerId, (parent, narrowed) =>
          this.createWorker(narrowed, hooks, parent, workerId),
        )
      }
      if (resume) await this.resume(created.workerId, resume, hooks)
      return created
    })
  }

  /**
   * Holds `count` places under MAX_WORKERS (checked before the first await) while `make` makes
   * that many workers; refused with `worker_limit` when they do not all fit.
   */
  async reserve<T>(count: number, make: () => Promise<T>): Promise<T> {
    const max = this.ctx.policy.maxWorkers
    const live = this.store.records().filter((r) => !r.pool).length
    if (max > 0 && live + this.creating + count > max) {
      throw new SpawnerError(
        'worker_limit',
        count === 1
          ? `this instance already runs its maximum of ${max} workers (MAX_WORKERS)`
          : `${count} more workers would pass this instance's maximum of ${max} (MAX_WORKERS; ${live + this.creating} now)`,
      )
    }
    this.creating += count
    try {
      return await make()
    } finally {
      this.creating -= count
    }
  }

  /** Restores a saved session into a worker just made; failing, the worker goes and nothing is left. */
  private async resume(workerId: string, checked: CheckedResume, hooks: CommandHooks) {
    const record = await this.store.get(workerId)
    try {
      await restoreSession(this.ctx, record, checked, await ancestorsOf(this.store, record))
      this.ctx.logger.info('session resumed', {
        workerId,
        fromWorker: checked.fromWorker,
        bytes: checked.archive.length,
      })
    } catch (err) {
      await this.ctx.runtime.remove(record.containerId).catch(() => undefined)
      this.store.forget(workerId)
      const message = `resume: the saved session could not be restored: ${err instanceof Error ? err.message : String(err)}`
      this.ctx.logger.warn('session not resumed', { workerId, error: message })
      this.ctx.emit(
        { type: 'status', workerId, state: 'failed', reason: 'error', message },
        hooks.requestId,
      )
      throw err instanceof SpawnerError
        ? err
        : new SpawnerError('internal', message, { cause: err })
    }
  }

  private async createWorker(
    config: WorkerConfig,
    hooks: CommandHooks,
    parent?: WorkerRecord,
    id?: string,
  ): Promise<CreateOutput> {
    const begun = Date.now()
    const { resolved, spec, workerId, createdAt, hostFiles, asks } = await this.factory.check(
      config,
      parent,
      id,
    )
    // A pool container was started without the agent's permission hook.
    const pool = this.pool
    const pooled = parent || asks ? undefined : pool?.take(config)
    // Checked names only from here: an unknown agent was refused above.
    const agent = config.agent ?? 'none'
    const measure = (source: 'pool' | 'fresh', outcome: 'ok' | 'failed') =>
      this.ctx.measures.record({
        kind: 'create',
        agent,
        source,
        outcome,
        seconds: (Date.now() - begun) / 1000,
      })
    if (this.pool && !parent && !asks)
      this.ctx.measures.record({ kind: 'pool', agent, hit: !!pooled })
    if (pooled) {
      await this.factory
        .handOut(pooled, config, resolved, hostFiles, hooks.onEffect)
        .catch((err: unknown) => {
          measure('pool', 'failed')
          throw err
        })
        // Only now: the next container's start would slow this hand-out's writes down.
        .finally(() => pool?.refill())
      measure('pool', 'ok')
      this.ctx.logger.info('worker created from the warm pool', { workerId: pooled.workerId })
      this.ctx.emit(
        { type: 'status', workerId: pooled.workerId, state: 'running', reason: 'request' },
        hooks.requestId,
      )
      return createResult(pooled, false)
    }

    this.ctx.emit(
      { type: 'status', workerId, state: 'creating', reason: 'request' },
      hooks.requestId,
    )
    let started: { record: WorkerRecord; built: boolean }
    let running = false
    const onEffect = () => {
      running = true
      hooks.onEffect?.()
    }
    try {
      started = await this.factory.startContainer(
        config,
        resolved,
        workerId,
        createdAt,
        spec,
        {},
        hostFiles,
        onEffect,
        undefined,
        {
          workerId,
          ...(hooks.requestId ? { requestId: hooks.requestId } : {}),
          ...(hooks.onBuild ? { onProgress: hooks.onBuild } : {}),
        },
      )
    } catch (err) {
      if (running) await this.factory.removeLeftovers(workerId)
      const message = err instanceof SpawnerError ? err.message : 'internal error'
      measure('fresh', 'failed')
      this.ctx.emit(
        { type: 'status', workerId, state: 'failed', reason: 'error', message },
        hooks.requestId,
      )
      throw err
    }
    const { record } = started
    this.store.keep(record, resolved.agent)
    measure('fresh', 'ok')
    this.ctx.logger.info('worker created', { workerId, containerId: record.containerId })
    this.ctx.emit(
      { type: 'status', workerId, state: 'running', reason: 'request' },
      hooks.requestId,
    )
    return createResult(record, started.built)
  }
}

const createResult = (record: WorkerRecord, built: boolean): CreateOutput => {
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
