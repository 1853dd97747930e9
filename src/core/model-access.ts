import type { BudgetLedger } from './budget-ledger.ts'
import type { ModelCall } from './budget.ts'
import type { CoreContext } from './context.ts'
import { ForbiddenError, NotFoundError, SpawnerError, UnauthorizedError } from './errors.ts'
import { realKeyOf, upstreamOf } from './gateway-access.ts'
import type { WorkerStore } from './worker-store.ts'

/** Where the gateway sends one worker's call, and with which key. */
export interface ModelRoute {
  workerId: string
  plugin: string
  /** The upstream base URL (no trailing slash). */
  upstream: string
  /** The spawner's real key, or undefined for an upstream that takes none. */
  key: string | undefined
  /** True when a budget in dollars is above the worker: it may call only priced models. */
  pricedOnly?: boolean
  /** The worker's parent, its parent's, and so on: who pays for a call outliving the worker. */
  ancestors?: string[]
  /**
   * True when the worker may reach any host (network `'all'`, or `*` allowed): only then may a
   * call have the provider fetch URLs for it, which would pass by its allow list.
   */
  reachesAll?: boolean
}

/**
 * Model calls one worker may have running at once. Calls already running when a budget is
 * reached still finish, so this bounds how far they overshoot it (and the request bodies held).
 */
export const MAX_MODEL_CALLS_PER_WORKER = 16

/** Refused connections a worker may have reported (event and log line) per minute; the rest are only counted. */
export const EGRESS_DENIED_PER_MINUTE = 30

/** At most `limit` per key in each minute (a fixed window, per key). */
class PerMinute {
  private readonly windows = new Map<string, { start: number; used: number }>()

  constructor(private readonly limit: number) {}

  take(key: string, now: number): boolean {
    let w = this.windows.get(key)
    if (!w || now - w.start >= 60_000) {
      // Old windows go with the next new one: the map holds only keys seen this minute.
      for (const [k, old] of this.windows) if (now - old.start >= 60_000) this.windows.delete(k)
      w = { start: now, used: 0 }
      this.windows.set(key, w)
    }
    return ++w.used <= this.limit
  }
}

/**
 * The core's side of the model gateway: who a credential belongs to, whether that worker may
 * call a plugin's model API now (its plugin, its budget), where the call goes with which key,
 * and what it cost afterwards.
 */
export class ModelAccess {
  /** `egress_denied` events and log lines each worker may cause per minute. */
  private readonly deniedWindow = new PerMinute(EGRESS_DENIED_PER_MINUTE)
  /** Calls running per worker, from `route` to `release`. */
  private readonly running = new Map<string, number>()

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly ledger: BudgetLedger,
  ) {}

  /**
   * The route for a call by the worker holding `credential` to `plugin`'s model API. Throws
   * `unauthorized` for a credential minted elsewhere or of a worker this instance does not run,
   * `forbidden` for a plugin the worker does not have, `budget_exceeded` when a budget it counts
   * against is spent, `not_found` for a plugin without a gateway, `too_many_model_calls` when
   * the worker has MAX_MODEL_CALLS_PER_WORKER running. Each route must be `release`d once.
   */
  async route(credential: string, plugin: string): Promise<ModelRoute> {
    const workerId = await this.ctx.workerKeys.verify(credential)
    const record = workerId ? this.store.held(workerId) : undefined
    if (!workerId || !record) {
      throw new UnauthorizedError(
        'not a worker credential of this service: the model gateway serves only its workers',
      )
    }
    if (record.agent !== plugin && !record.capabilities.includes(plugin)) {
      throw new ForbiddenError(`worker '${workerId}' does not have plugin '${plugin}'`, 'forbidden')
    }
    const g = this.ctx.opts.plugins().get(plugin)?.gateway
    const upstream = g && upstreamOf(g, this.ctx.opts.hostEnv)
    if (!g || !upstream) {
      throw new NotFoundError(`plugin '${plugin}' has no model API behind the gateway`, 'not_found')
    }
    this.ledger.admit(workerId)
    const running = this.running.get(workerId) ?? 0
    if (running >= MAX_MODEL_CALLS_PER_WORKER) {
      throw new SpawnerError(
        'too_many_model_calls',
        `worker '${workerId}' has ${running} model calls running, as many as it may; ` +
          'try again when one has ended',
      )
    }
    this.running.set(workerId, running + 1)
    return {
      workerId,
      plugin,
      upstream: upstream.replace(/\/+$/, ''),
      key: realKeyOf(g, this.ctx.opts.hostEnv),
      pricedOnly: this.ledger.budgetHolders(workerId).some((h) => h.budget?.usd !== undefined),
      reachesAll: record.network === 'open' || (record.egress ?? []).includes('*'),
      ancestors: this.ledger.ancestorsOf(workerId),
    }
  }

  /** Frees the place of a call `route` let through, whatever became of the call. */
  release(route: ModelRoute): void {
    const left = (this.running.get(route.workerId) ?? 1) - 1
    if (left > 0) this.running.set(route.workerId, left)
    else this.running.delete(route.workerId)
  }

  /**
   * The worker holding `credential` and the host patterns its egress proxy lets through (none
   * for a worker whose network is `'none'`), or undefined for a credential of no worker here.
   */
  async egressOf(credential: string): Promise<{ workerId: string; allow: string[] } | undefined> {
    const workerId = await this.ctx.workerKeys.verify(credential)
    const record = workerId ? this.store.held(workerId) : undefined
    return record ? { workerId: record.workerId, allow: record.egress ?? [] } : undefined
  }

  /** Counts a connection the egress proxy let through or refused; a refusal is an event. */
  egress(e: { workerId: string; host: string; port: number; reason?: string }): void {
    const record = this.store.held(e.workerId)
    if (!record) return
    const counts = (record.connections ??= { allowed: 0, denied: 0 })
    if (e.reason === undefined) {
      counts.allowed++
      return
    }
    counts.denied++
    // A worker that keeps knocking is counted, not let flood the log and the event stream.
    if (!this.deniedWindow.take(e.workerId, this.ctx.now().getTime())) return
    this.ctx.logger.info('egress denied', { workerId: e.workerId, host: e.host, port: e.port })
    this.ctx.emit({
      type: 'egress_denied',
      workerId: e.workerId,
      host: e.host,
      port: e.port,
      reason: e.reason,
    })
  }

  /**
   * Records a finished call against its worker (and with it every budget above it). A call that
   * ends after its worker was deleted (a parent may delete a child mid-call) goes to the nearest
   * ancestor still here, as the spend of a gone sub-worker.
   */
  record(route: ModelRoute, call: ModelCall & { model?: string }): void {
    const record = this.store.held(route.workerId)
    const c = { ...call, plugin: route.plugin }
    if (record) return this.ledger.record(record, c)
    for (const id of route.ancestors ?? []) {
      const heir = this.store.held(id)
      if (heir) return this.ledger.record(heir, c, route.workerId)
    }
  }
}
