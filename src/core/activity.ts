import type { z } from 'zod'
import type { CoreContext } from './context.ts'
import { ConflictError, SpawnerError } from './errors.ts'
import type { ChangeReason, CommandHooks } from './hooks.ts'
import type * as S from './schemas.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

type StateOutput = z.output<typeof S.stateOutput>

/**
 * Whether workers run or sleep. Work in a worker goes through `active`: it is counted against
 * MAX_WORKER_COMMANDS and MAX_COMMANDS, a paused worker is resumed first, and the last activity
 * moves forward (and reaches the state file now and then, so a restart keeps the idle deadline).
 */
export class ActivityGuard {
  /** Commands and file operations running in workers, all together (MAX_COMMANDS). */
  private running = 0

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
  ) {}

  /**
   * Runs `work` with the worker marked active: a paused worker is resumed first (also when it
   * was paused behind our back), and last-active time moves forward.
   */
  async active<T>(record: WorkerRecord, work: () => Promise<T>): Promise<T> {
    // Each command may hold its output (up to 16 MiB a stream) here: their number is bounded.
    const { maxWorkerCommands, maxCommands } = this.ctx.policy
    if (record.runningCommands >= maxWorkerCommands) {
      throw new SpawnerError(
        'too_many_commands',
        `worker '${record.workerId}' already runs ${record.runningCommands} commands (at most ${maxWorkerCommands} at once)`,
      )
    }
    if (this.running >= maxCommands) {
      throw new SpawnerError(
        'too_many_commands',
        `this instance already runs ${this.running} commands (MAX_COMMANDS)`,
      )
    }
    record.runningCommands++
    this.running++
    try {
      if (record.pausing) await record.pausing
      if (record.state === 'paused') await this.resume(record.workerId)
    } catch (err) {
      record.runningCommands--
      this.running--
      throw err
    }
    record.lastActiveAt = this.ctx.now()
    try {
      try {
        return await work()
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err
        const info = await this.ctx.runtime.inspect(record.containerId)
        if (info?.state !== 'paused') throw err
        await this.resume(record.workerId)
        return await work()
      }
    } finally {
      record.runningCommands--
      this.running--
      record.lastActiveAt = this.ctx.now()
      if (this.store.has(record.workerId)) this.persist(record)
    }
  }

  /** Pauses an idle worker; one running a command is refused (`worker_busy`). */
  async pause(
    workerId: string,
    hooks: CommandHooks = {},
    reason: ChangeReason = 'request',
  ): Promise<StateOutput> {
    const record = await this.store.get(workerId)
    // `pausing`: a pause or a restore under way, which this one would overtake.
    if (record.runningCommands > 0 || record.pausing) {
      throw new ConflictError(
        `worker '${record.workerId}' is running a command, or being paused or restored; pause it when it is idle`,
        'worker_busy',
      )
    }
    hooks.onEffect?.()
    const pausing = this.ctx.runtime.pause(record.containerId)
    record.pausing = pausing.catch(() => undefined)
    try {
      await pausing
    } finally {
      delete record.pausing
    }
    record.state = 'paused'
    this.ctx.logger.info('worker paused', { workerId: record.workerId, reason })
    this.ctx.emit(
      { type: 'status', workerId: record.workerId, state: 'paused', reason },
      hooks.requestId,
    )
    return { workerId: record.workerId, state: record.state }
  }

  async resume(workerId: string, hooks: CommandHooks = {}): Promise<StateOutput> {
    const record = await this.store.get(workerId)
    hooks.onEffect?.()
    await this.ctx.runtime.unpause(record.containerId)
    record.state = 'running'
    record.lastActiveAt = this.ctx.now()
    this.ctx.logger.info('worker resumed', { workerId: record.workerId })
    this.ctx.emit(
      { type: 'status', workerId: record.workerId, state: 'running', reason: 'request' },
      hooks.requestId,
    )
    return { workerId: record.workerId, state: record.state }
  }

  /** Writes the last activity now and then, so a restart keeps the idle deadline. */
  private persist(record: WorkerRecord) {
    const every = this.ctx.opts.persistActivityMs ?? 30_000
    if (record.lastActiveAt.getTime() - record.persistedActiveAt < every) return
    record.persistedActiveAt = record.lastActiveAt.getTime()
    this.store.writeState(record).catch((err) =>
      this.ctx.logger.debug('activity not persisted', {
        workerId: record.workerId,
        error: String(err),
      }),
    )
  }
}
