import type { Logger } from './logger.ts'
import { noopLogger } from './logger.ts'
import type { WorkerService } from './service.ts'

export interface LifecycleOptions {
  /** How often deadlines are checked. Default 1 s. */
  tickMs?: number
  /**
   * How long past its TTL a worker's running command may keep it (default 5 min): then it is
   * deleted anyway, so nothing the agent does (a command that never ends) outlives the TTL.
   */
  ttlGraceMs?: number
  logger?: Logger
  now?: () => number
}

/**
 * Enforces deadlines: deletes a worker at its TTL and pauses it after `idleSeconds` without a
 * command. A worker running a command is active — never paused, and not deleted mid-command
 * unless it is `ttlGraceMs` past its TTL; an expired one goes as soon as its command ends.
 */
export class Lifecycle {
  private timer: ReturnType<typeof setInterval> | undefined
  private ticking: Promise<void> | undefined
  private readonly logger: Logger
  private readonly now: () => number

  constructor(
    private readonly service: WorkerService,
    private readonly opts: LifecycleOptions = {},
  ) {
    this.logger = opts.logger ?? noopLogger
    this.now = opts.now ?? Date.now
  }

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000)
  }

  /** One pass over every worker; overlapping passes are skipped. */
  tick(): Promise<void> {
    this.ticking ??= this.pass().finally(() => {
      this.ticking = undefined
    })
    return this.ticking
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.ticking
  }

  private async pass() {
    const now = this.now()
    const grace = this.opts.ttlGraceMs ?? 5 * 60_000
    for (const r of this.service.records()) {
      const expires = r.createdAt.getTime() + r.ttlSeconds * 1000
      const overdue = now >= expires + grace
      if (r.pool || ((r.runningCommands > 0 || r.pausing) && !overdue)) continue
      try {
        if (overdue && r.runningCommands > 0) {
          this.logger.warn('worker past its TTL with a command still running: deleted', {
            workerId: r.workerId,
          })
        }
        if (now >= expires) {
          await this.service.delete({ workerId: r.workerId }, {}, 'ttl')
        } else if (
          r.idleSeconds > 0 &&
          r.state === 'running' &&
          now >= r.lastActiveAt.getTime() + r.idleSeconds * 1000
        ) {
          await this.service.pause({ workerId: r.workerId }, {}, 'idle')
        }
      } catch (err) {
        this.logger.warn('lifecycle action failed', {
          workerId: r.workerId,
          error: err instanceof Error ? err.message : String(err),
        })
      }
    }
  }
}
