import type { z } from 'zod'
import type { ActivityGuard } from './activity.ts'
import type { CoreContext } from './context.ts'
import { BadRequestError, ForbiddenError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import { assertLifetime } from './preflight.ts'
import type * as S from './schemas.ts'
import type { WorkerTree } from './sub-workers.ts'
import type { WorkerFactory } from './worker-factory.ts'
import { toStatus } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'
import { writeToken } from './worker-tokens.ts'
import type { BudgetLedger } from './budget-ledger.ts'

/** What `updateWorker` works with. */
export interface UpdateParts {
  ctx: CoreContext
  store: WorkerStore
  guard: ActivityGuard
  tree: WorkerTree
  factory: WorkerFactory
  ledger: BudgetLedger
}

/**
 * The `update` command: changes a worker's TTL or idle time. The lifetime never passes
 * MAX_TTL_SECONDS, a sub-worker's never passes its parent's, and a worker cannot lengthen its
 * own. The worker's state file holds the change before its record does.
 */
export const updateWorker = async (
  { ctx, store, guard, tree, factory, ledger }: UpdateParts,
  input: z.output<typeof S.updateInput>,
  hooks: CommandHooks = {},
): Promise<z.output<typeof S.statusOutput>> => {
  const record = await store.get(input.workerId)
  let ttlSeconds = input.ttlSeconds ?? record.ttlSeconds
  if (input.ttlSeconds !== undefined) {
    assertLifetime(ttlSeconds, ctx.policy)
    if (hooks.caller === record.workerId && ttlSeconds > record.ttlSeconds) {
      throw new ForbiddenError(
        `worker '${record.workerId}' cannot lengthen its own lifetime`,
        'ttl_not_allowed',
      )
    }
    ttlSeconds = await tree.lifetimeWithin(record, ttlSeconds)
  }
  // Budgets are the operator's: a worker changes neither its own nor a sub-worker's.
  if (input.budget !== undefined && hooks.caller !== undefined) {
    throw new ForbiddenError(
      `worker '${hooks.caller}' cannot change model budgets; an operator can`,
      'forbidden',
    )
  }
  const next = {
    ttlSeconds,
    idleSeconds: input.idleSeconds ?? record.idleSeconds,
    ...(input.budget ? { budget: input.budget } : {}),
  }
  hooks.onEffect?.()
  // A longer life needs a token that lives as long. The file is written inside the worker as
  // its user, so a paused worker is resumed first; a token file the agent redirected stays
  // stale (its own doing) and the update still holds.
  if (input.ttlSeconds !== undefined) {
    const lifetime = {
      allowedTools: record.allowedTools,
      ttlSeconds: next.ttlSeconds,
      permit: record.permissions !== undefined,
    }
    const env = await factory.orchestratorEnv(record.workerId, lifetime, record.createdAt)
    await guard
      .active(record, () => writeToken(ctx.runtime, record.containerId, env))
      .catch((err: unknown) => {
        if (!(err instanceof BadRequestError)) throw err
        ctx.logger.warn('token file not refreshed', {
          workerId: record.workerId,
          reason: err.message,
        })
      })
  }
  // Before the record changes: a change the container does not hold would be lost on restart.
  const updated = { ...record, ...next }
  if (input.budget === null) delete updated.budget
  await store.writeState(updated)
  Object.assign(record, next)
  if (input.budget === null) delete record.budget
  return toStatus(record, ledger.treeSpend(record.workerId))
}
