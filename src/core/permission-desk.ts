import type { z } from 'zod'
import type { CoreContext } from './context.ts'
import { ConflictError, ForbiddenError, NotFoundError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import { decide, summarize } from './permission-policy.ts'
import { boundsOf } from './permission-setup.ts'
import {
  MAX_PENDING_PERMISSIONS,
  MAX_PERMISSION_INPUT_CHARS,
  MAX_RESOLVED_PERMISSIONS,
  permissionsView,
  type DecidedBy,
  type KeptPending as PendingPermission,
  type KeptResolved as ResolvedPermission,
  type PermissionState,
} from './permission-schemas.ts'
import type * as P from './permission-schemas.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

type RequestOutput = z.output<typeof P.requestPermissionOutput>

/** A tool input as kept with a request: as is when small, else its JSON cut to the cap. */
const capped = (input: unknown): unknown => {
  const json = JSON.stringify(input ?? null)
  return json.length <= MAX_PERMISSION_INPUT_CHARS
    ? input
    : `${json.slice(0, MAX_PERMISSION_INPUT_CHARS)}…`
}

/**
 * Permission requests: a worker's agent asks before a tool call (`request`), its policy
 * decides at once or the request waits for an answer (`answer`) until its deadline, when it is
 * denied. Waiting requests are kept in the worker's signed state, so they outlive a restart of
 * the service: the asker, which retries with the same id, finds its request again.
 */
export class PermissionDesk {
  /** Callers waiting for a request's answer, by `workerId/requestId`. */
  private readonly waiters = new Map<string, Set<() => void>>()
  /** Deadline timers of this process, by `workerId/requestId`. */
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  /**
   * Requests not yet in the worker's state file, by `workerId/requestId`: nobody is shown them
   * until they are, or a restart right after could lose a request someone saw.
   */
  private readonly saving = new Set<string>()

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
  ) {}

  /**
   * A worker's own agent asks to run `tool`: decided by the policy at once, or waits up to
   * `waitMs` for an answer and says `pending` (the asker asks again with the same id).
   */
  async request(
    input: z.output<typeof P.requestPermissionInput>,
    hooks: CommandHooks = {},
  ): Promise<RequestOutput> {
    if (hooks.caller !== input.workerId) {
      throw new ForbiddenError(
        "only a worker's own agent asks for its permissions (the orchestrator CLI inside it)",
      )
    }
    const record = await this.store.get(input.workerId)
    const state = this.stateOf(record)
    if (this.late(record).length) hooks.onEffect?.()
    await this.expire(record)
    const { requestId } = input
    const fingerprint = await fingerprintOf(input.tool, input.input)
    const done = state.resolved.find((r) => r.requestId === requestId)
    if (done) return done.fingerprint === fingerprint ? answerOf(done) : reused(requestId)
    let pending = state.pending.find((p) => p.requestId === requestId)
    if (pending && pending.fingerprint !== fingerprint) return reused(requestId)
    if (!pending) {
      const d = decide(state, boundsOf(this.ctx), input.tool, input.input)
      if (d.verdict !== 'ask') {
        this.publishResolved(record, {
          requestId,
          tool: input.tool,
          decision: d.verdict,
          by: 'policy',
          reason: d.reason,
          at: this.ctx.now().toISOString(),
        })
        return { requestId, decision: d.verdict, by: 'policy', reason: d.reason }
      }
      if (state.pending.length >= MAX_PENDING_PERMISSIONS) {
        const reason = `${MAX_PENDING_PERMISSIONS} requests are waiting already`
        return { requestId, decision: 'deny', by: 'policy', reason }
      }
      const now = this.ctx.now()
      pending = {
        requestId,
        tool: input.tool,
        input: capped(input.input),
        summary: summarize(input.tool, input.input),
        createdAt: now.toISOString(),
        deadline: new Date(now.getTime() + state.timeoutMs).toISOString(),
        approver: d.approver,
        fingerprint,
      }
      hooks.onEffect?.()
      const key = keyOf(record.workerId, requestId)
      this.saving.add(key)
      state.pending.push(pending)
      // Kept before anyone hears of it: an answer to a request the worker lost would be lost too.
      try {
        await this.store.writeState(record)
      } catch (err) {
        state.pending.splice(state.pending.indexOf(pending), 1)
        throw err
      } finally {
        this.saving.delete(key)
      }
      this.ctx.emit(
        {
          type: 'permission_request',
          workerId: record.workerId,
          tool: pending.tool,
          input: pending.input,
          summary: pending.summary,
          deadline: pending.deadline,
          approver: pending.approver,
          ...(record.parentId ? { parentId: record.parentId } : {}),
          rootId: record.rootId,
        },
        requestId,
      )
    }
    this.arm(record, pending)
    const left = Date.parse(pending.deadline) - this.ctx.now().getTime()
    await this.wait(record.workerId, requestId, Math.max(0, Math.min(input.waitMs, left)))
    const after = state.resolved.find((r) => r.requestId === requestId)
    return after ? answerOf(after) : { requestId, decision: 'pending', deadline: pending.deadline }
  }

  /**
   * Answers a waiting request. Operators answer any; a worker answers only the requests of the
   * sub-workers it spawned that name it their approver, never its own.
   */
  async answer(
    input: z.output<typeof P.answerPermissionInput>,
    hooks: CommandHooks = {},
  ): Promise<z.output<typeof P.answerPermissionOutput>> {
    const record = await this.store.get(input.workerId)
    const state = this.stateOf(record)
    if (this.late(record).length) hooks.onEffect?.()
    await this.expire(record)
    const pending = state.pending.find((p) => p.requestId === input.requestId)
    if (!pending) {
      const done = state.resolved.find((r) => r.requestId === input.requestId)
      if (done) {
        throw new ConflictError(
          `permission request '${input.requestId}' is closed: ${done.decision === 'deny' && done.by === 'timeout' ? 'it timed out' : `answered ${done.decision} by ${done.by}`}`,
          'permission_request_closed',
        )
      }
      throw new NotFoundError(
        `worker '${record.workerId}' has no permission request '${input.requestId}'`,
        'permission_request_not_found',
      )
    }
    const by: DecidedBy = hooks.caller ? 'parent' : 'operator'
    if (hooks.caller) this.assertParent(record, pending, hooks.caller)
    const always = input.always && input.decision === 'allow'
    hooks.onEffect?.()
    if (always) {
      // The operator's "always" outranks every layer's asking; a parent's only the child's own.
      if (by === 'operator') grant(state.granted, pending.tool)
      else grant(state.own.allow, pending.tool)
    }
    await this.resolve(record, pending, input.decision, by, input.reason)
    return {
      workerId: record.workerId,
      requestId: pending.requestId,
      decision: input.decision,
      by,
      always,
    }
  }

  /** How the worker asks, and its requests waiting for an answer. */
  async list(workerId: string) {
    const record = await this.store.get(workerId)
    this.watch(record)
    return { workerId: record.workerId, ...this.view(record) }
  }

  /** How the worker asks, and its requests waiting (those kept in its state file). */
  view(record: WorkerRecord) {
    const view = permissionsView(record.permissions)
    const kept = view.pending.filter((p) => !this.saving.has(keyOf(record.workerId, p.requestId)))
    return { ...view, pending: kept }
  }

  /**
   * Makes sure every waiting request of the worker is denied at its deadline by this process
   * (after a restart nobody else will); changes nothing now.
   */
  watch(record: WorkerRecord) {
    for (const p of record.permissions?.pending ?? []) this.arm(record, p)
  }

  /** The worker's requests whose deadline has passed. */
  private late(record: WorkerRecord) {
    const now = this.ctx.now().getTime()
    return (record.permissions?.pending ?? []).filter((p) => Date.parse(p.deadline) <= now)
  }

  /** Denies the worker's requests whose deadline has passed. */
  private async expire(record: WorkerRecord) {
    for (const p of this.late(record))
      await this.resolve(record, p, 'deny', 'timeout', 'nobody answered in time')
  }

  private stateOf(record: WorkerRecord): PermissionState {
    if (!record.permissions) {
      throw new ConflictError(
        `worker '${record.workerId}' skips permissions: its tool calls are not asked for`,
        'permissions_off',
      )
    }
    return record.permissions
  }

  private assertParent(record: WorkerRecord, pending: PendingPermission, caller: string) {
    if (caller === record.workerId)
      throw new ForbiddenError('a worker cannot answer its own permission requests')
    if (record.parentId !== caller) {
      throw new ForbiddenError(
        `worker '${caller}' may answer only the requests of the sub-workers it spawned`,
        'not_your_worker',
      )
    }
    if (pending.approver !== 'parent') {
      throw new ForbiddenError(
        `request '${pending.requestId}' of worker '${record.workerId}' goes to the operator, not to its parent`,
      )
    }
  }

  /** Moves a waiting request to the decided ones, keeps that, tells everyone and wakes the asker. */
  private async resolve(
    record: WorkerRecord,
    pending: PendingPermission,
    decision: 'allow' | 'deny',
    by: DecidedBy,
    reason?: string,
  ) {
    const state = record.permissions!
    const at = state.pending.indexOf(pending)
    if (at < 0) return
    state.pending.splice(at, 1)
    const done: ResolvedPermission = {
      requestId: pending.requestId,
      tool: pending.tool,
      decision,
      by,
      fingerprint: pending.fingerprint,
      ...(reason ? { reason } : {}),
      at: this.ctx.now().toISOString(),
    }
    state.resolved.push(done)
    if (state.resolved.length > MAX_RESOLVED_PERMISSIONS) state.resolved.shift()
    const key = keyOf(record.workerId, pending.requestId)
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
    try {
      await this.store.writeState(record)
    } finally {
      // Decided in memory either way: the asker waiting here gets the answer.
      this.publishResolved(record, done)
      for (const wake of this.waiters.get(key) ?? []) wake()
    }
  }

  private publishResolved(record: WorkerRecord, r: Omit<ResolvedPermission, 'fingerprint'>) {
    this.ctx.emit(
      {
        type: 'permission_resolved',
        workerId: record.workerId,
        tool: r.tool,
        decision: r.decision,
        by: r.by,
        ...(r.reason ? { reason: r.reason } : {}),
      },
      r.requestId,
    )
  }

  /** Denies `pending` at its deadline, unless answered first (one timer per request here). */
  private arm(record: WorkerRecord, pending: PendingPermission) {
    const key = keyOf(record.workerId, pending.requestId)
    if (this.timers.has(key)) return
    const ms = Math.max(0, Date.parse(pending.deadline) - this.ctx.now().getTime())
    const timer = setTimeout(() => {
      this.timers.delete(key)
      const held = this.store.held(record.workerId)
      if (!held?.permissions?.pending.includes(pending)) return
      this.resolve(held, pending, 'deny', 'timeout', 'nobody answered in time').catch(
        (err: unknown) =>
          this.ctx.logger.warn('permission timeout not kept', {
            workerId: record.workerId,
            error: err instanceof Error ? err.message : String(err),
          }),
      )
    }, ms + 10)
    ;(timer as { unref?: () => void }).unref?.()
    this.timers.set(key, timer)
  }

  /** Resolves after `ms`, or as soon as the request is decided. */
  private wait(workerId: string, requestId: string, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    const key = keyOf(workerId, requestId)
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set()
      this.waiters.set(key, set)
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0) this.waiters.delete(key)
        resolve()
      }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }
}

/** Adds an allow rule for exactly `tool` (its name has no glob characters), once, within the cap. */
const grant = (rules: PermissionState['granted'], tool: string) => {
  if (rules.length >= 256 || rules.some((r) => r.tool === tool && r.path === undefined)) return
  rules.push({ tool })
}

/** A digest of a call (see `permissionStateSchema`). */
const fingerprintOf = async (tool: string, input: unknown): Promise<string> => {
  const bytes = new TextEncoder().encode(JSON.stringify([tool, input ?? null]))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** The answer to an id asked again for another call. */
const reused = (requestId: string): RequestOutput => ({
  requestId,
  decision: 'deny',
  by: 'policy',
  reason: `request id '${requestId}' was used for another call`,
})

const keyOf = (workerId: string, requestId: string) => `${workerId}/${requestId}`

const answerOf = (r: ResolvedPermission): RequestOutput => ({
  requestId: r.requestId,
  decision: r.decision,
  by: r.by,
  ...(r.reason ? { reason: r.reason } : {}),
})
