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

  async create(
    config: WorkerConfig,
    hooks: CommandHooks,
    parentId?: string,
  ): Promise<CreateOutput> {
    const max = this.ctx.policy.maxWorkers
    const live = this.store.records().filter((r) => !r.pool).length
    if (max > 0 && live + this.creating >= max) {
      throw new SpawnerError(
        'worker_limit',
        `this instance already runs its maximum of ${max} workers (MAX_WORKERS)`,
      )
    }
    this.creating++
    try {
      if (parentId === undefined) return await this.createWorker(config, hooks)
      const workerId = newWorkerId()
      return await this.tree.spawn(parentId, config, workerId, (parent, narrowed) =>
        this.createWorker(narrowed, hooks, parent, workerId),
      )
    } finally {
      this.creating--
    }
  }

  private async createWorker(
    config: WorkerConfig,
    hooks: CommandHooks,
    parent?: WorkerRecord,
    id?: string,
  ): Promise<CreateOutput> {
    const { resolved, spec, workerId, createdAt, hostFiles, asks } = await this.factory.check(
      config,
      parent,
      id,
    )
    // A pool container was started without the agent's permission hook.
    const pooled = parent || asks ? undefined : this.pool?.take(config)
    if (pooled) {
      await this.factory.handOut(pooled, config, resolved, hostFiles, hooks.onEffect)
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
      )
    } catch (err) {
      if (running) await this.factory.removeLeftovers(workerId)
      const message = err instanceof SpawnerError ? err.message : 'internal error'
      this.ctx.emit(
        { type: 'status', workerId, state: 'failed', reason: 'error', message },
        hooks.requestId,
      )
      throw err
    }
    const { record } = started
    this.store.keep(record, resolved.agent)
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
