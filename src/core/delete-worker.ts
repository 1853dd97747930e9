import type { z } from 'zod'
import type { CoreContext } from './context.ts'
import { NotFoundError } from './errors.ts'
import type { ChangeReason, CommandHooks } from './hooks.ts'
import type * as S from './schemas.ts'
import type { WorkerTree } from './sub-workers.ts'
import type { WorkerStore } from './worker-store.ts'
import type { BudgetLedger } from './budget-ledger.ts'
import type { Checkpoints } from './checkpoints.ts'

/** What `deleteWorker` works with. */
export interface DeleteParts {
  ctx: CoreContext
  store: WorkerStore
  tree: WorkerTree
  ledger: BudgetLedger
  /** The worker's checkpoints go with it (see `Checkpoints.dropAll`). */
  checkpoints?: Checkpoints
}

/**
 * The `delete` command: removes a worker's container after its sub-workers, with everything
 * below them; a sub-worker already gone is skipped.
 */
export const deleteWorker = async (
  parts: DeleteParts,
  input: { workerId: string },
  hooks: CommandHooks = {},
  reason: ChangeReason = 'request',
): Promise<z.output<typeof S.deleteOutput>> => {
  const { ctx, store, tree, ledger } = parts
  const record = await store.get(input.workerId)
  const children: string[] = []
  for (const childId of await tree.childrenOf(record.workerId)) {
    const gone = await deleteWorker(parts, { workerId: childId }, hooks, reason).catch((err) => {
      if (err instanceof NotFoundError) return undefined
      throw err
    })
    if (gone) children.push(gone.workerId, ...gone.children)
  }
  hooks.onEffect?.()
  const removed = record.containerId
  await ctx.runtime.remove(removed)
  ledger.retire(record)
  store.forget(record.workerId)
  // A restore that swapped in a new container meanwhile: it goes too.
  if (record.containerId !== removed) {
    await ctx.runtime.remove(record.containerId).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err
    })
  }
  await parts.checkpoints?.dropAll(record).catch((err: unknown) =>
    ctx.logger.warn('checkpoints of a deleted worker not removed', {
      workerId: record.workerId,
      error: String(err),
    }),
  )
  ctx.logger.info('worker deleted', {
    workerId: record.workerId,
    reason,
    children: children.length,
  })
  ctx.emit({ type: 'status', workerId: record.workerId, state: 'deleted', reason }, hooks.requestId)
  return { workerId: record.workerId, deleted: true, children }
}
