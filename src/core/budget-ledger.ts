import type { Budget } from './config.ts'
import type { CoreContext } from './context.ts'
import {
  addCall,
  budgetExceeded,
  budgetReached,
  noSpend,
  remaining,
  sumSpend,
  type ModelCall,
  type Spend,
} from './budget.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerStore } from './worker-store.ts'

/**
 * What workers spend on model calls, as the gateway measures it, and the budgets it is checked
 * against: a worker's own, and every ancestor's (a sub-worker's calls count against each budget
 * above it). Spend is kept in each worker's signed state file, so a restart forgets none of it.
 */
export class BudgetLedger {
  /** Workers whose state file has a spend write on its way, and whether another is due. */
  private readonly writing = new Map<string, { again: boolean }>()

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
  ) {}

  /** What `workerId` and every worker below it (on this instance) spent on model calls. */
  treeSpend(workerId: string): Spend {
    const records = this.store.records()
    const below = new Set([workerId])
    // Parents are listed before their children only by chance: sweep until nothing is added.
    for (let added = true; added;) {
      added = false
      for (const r of records) {
        if (r.parentId && below.has(r.parentId) && !below.has(r.workerId)) {
          below.add(r.workerId)
          added = true
        }
      }
    }
    const tree = records.filter((r) => below.has(r.workerId))
    return sumSpend(tree.flatMap((r) => [r.spend, r.spentBelow]))
  }

  /**
   * Moves what a deleted worker and its gone sub-workers spent into its parent's `spentBelow`:
   * a sub-worker that ends gives nothing back to the budgets above it.
   */
  retire(record: WorkerRecord): void {
    const parent = record.parentId ? this.store.held(record.parentId) : undefined
    const spent = sumSpend([record.spend, record.spentBelow])
    if (!parent || spent.requests === 0) return
    parent.spentBelow = sumSpend([parent.spentBelow, spent])
    this.persist(parent)
  }

  /** The workers whose budgets a call of `workerId` counts against: itself, then its ancestors. */
  budgetHolders(workerId: string): WorkerRecord[] {
    const holders: WorkerRecord[] = []
    let id: string | undefined = workerId
    for (let hops = 0; id && hops < 32; hops++) {
      const r = this.store.records().find((x) => x.workerId === id)
      if (!r) break
      if (r.budget) holders.push(r)
      id = r.parentId
    }
    return holders
  }

  /** The ids above `workerId`: its parent first. */
  ancestorsOf(workerId: string): string[] {
    const ids: string[] = []
    let id = this.store.records().find((x) => x.workerId === workerId)?.parentId
    for (let hops = 0; id && hops < 32; hops++) {
      ids.push(id)
      id = this.store.records().find((x) => x.workerId === id)?.parentId
    }
    return ids
  }

  /** The first budget `workerId`'s calls count against that is spent, or undefined. */
  spentBudget(workerId: string): { holder: string; reached: string } | undefined {
    for (const holder of this.budgetHolders(workerId)) {
      const reached = budgetReached(holder.budget, this.treeSpend(holder.workerId))
      if (reached) return { holder: holder.workerId, reached }
    }
    return undefined
  }

  /** What a new child of `parentId` may spend at most: the least any budget above it has left. */
  available(parentId: string): Budget | undefined {
    let result: Budget | undefined
    for (const holder of this.budgetHolders(parentId))
      result = least(result, remaining(holder.budget!, this.treeSpend(holder.workerId)))
    return result
  }

  /** Throws `budget_exceeded` when a budget `workerId`'s calls count against is spent. */
  admit(workerId: string): void {
    const spent = this.spentBudget(workerId)
    if (spent) throw budgetExceeded(workerId, spent.holder, spent.reached)
  }

  /**
   * Adds one model call to `record`'s spend (to its `spentBelow` when the call was made by `gone`,
   * a sub-worker deleted since), keeps it in the state file, and publishes a `usage` event, and a
   * `budget` event for each budget this call used up.
   */
  record(
    record: WorkerRecord,
    call: ModelCall & { plugin: string; model?: string },
    gone?: string,
  ): void {
    const before = new Set(this.budgetHolders(record.workerId).filter((h) => this.reached(h)))
    addCall(gone ? (record.spentBelow ??= noSpend()) : (record.spend ??= noSpend()), call)
    this.ctx.emit({
      type: 'usage',
      workerId: gone ?? record.workerId,
      plugin: call.plugin,
      ...(call.model ? { model: call.model } : {}),
      inputTokens: call.inputTokens,
      outputTokens: call.outputTokens,
      cacheReadInputTokens: call.cacheReadInputTokens,
      cacheCreationInputTokens: call.cacheCreationInputTokens,
      costUsd: call.costUsd,
      // A gone worker's spend went to its parent when it was deleted: this call is all it has.
      spend: gone ? addCall(noSpend(), call) : { ...record.spend! },
    })
    for (const holder of this.budgetHolders(record.workerId)) {
      const reached = this.reached(holder)
      if (!reached || before.has(holder)) continue
      this.ctx.logger.info('model budget spent', { workerId: holder.workerId, reached })
      this.ctx.emit({
        type: 'budget',
        workerId: holder.workerId,
        ...(holder.workerId !== record.workerId ? { by: record.workerId } : {}),
        budget: holder.budget!,
        spend: this.treeSpend(holder.workerId),
        message: `model budget spent (${reached})`,
      })
    }
    this.persist(record)
  }

  private reached(holder: WorkerRecord) {
    return budgetReached(holder.budget, this.treeSpend(holder.workerId))
  }

  /** Writes the state file; calls that end while a write is on its way cause one more after it. */
  private persist(record: WorkerRecord) {
    const pending = this.writing.get(record.workerId)
    if (pending) {
      pending.again = true
      return
    }
    const mark = { again: false }
    this.writing.set(record.workerId, mark)
    const write = async () => {
      do {
        mark.again = false
        await this.store.writeState(record).catch((err: unknown) =>
          this.ctx.logger.warn('spend not written to the state file', {
            workerId: record.workerId,
            error: err instanceof Error ? err.message : String(err),
          }),
        )
      } while (mark.again && this.store.has(record.workerId))
      this.writing.delete(record.workerId)
    }
    void write()
  }
}

/** The least of two budgets, limit by limit. */
const least = (a: Budget | undefined, b: Budget): Budget => ({
  ...a,
  ...(b.usd !== undefined ? { usd: Math.min(b.usd, a?.usd ?? Infinity) } : {}),
  ...(b.tokens !== undefined ? { tokens: Math.min(b.tokens, a?.tokens ?? Infinity) } : {}),
})
