import { START_ENV, type WorkerConfig } from './config.ts'
import type { CoreContext } from './context.ts'
import { ForbiddenError, NotFoundError, SpawnerError } from './errors.ts'
import { LABELS } from './labels.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { Budget } from './config.ts'
import { widerBudget } from './budget.ts'
import type { BudgetLedger } from './budget-ledger.ts'
import { childNetworkRefusal, networkOf, resolveNetwork } from './network.ts'
import type { WorkerStore } from './worker-store.ts'
import type { TranscriptOwner } from './transcripts.ts'

/**
 * The trees workers spawn: who is whose child, and the quotas on them. A tree's quotas are
 * checked and its new worker's place held under that tree's lock, so concurrent spawns cannot
 * pass maxChildren or MAX_TREE_WORKERS.
 */
export class WorkerTree {
  /** Sub-workers being created, by id: they count against their parent's and tree's quotas. */
  private readonly reserved = new Map<string, { parentId: string; rootId: string }>()
  /** One quota check at a time per tree (see `locked`). */
  private readonly locks = new Map<string, Promise<void>>()

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly ledger: BudgetLedger,
  ) {}

  /** Ids of the workers `workerId` spawned (from memory and from container labels). */
  async childrenOf(workerId: string): Promise<string[]> {
    const ids = new Set(
      this.store
        .records()
        .filter((r) => r.parentId === workerId)
        .map((r) => r.workerId),
    )
    for (const info of await this.ctx.runtime.list({
      [LABELS.parent]: workerId,
      [LABELS.managed]: 'true',
    })) {
      const id = info.labels[LABELS.workerId]
      if (id) ids.add(id)
    }
    return [...ids]
  }

  /**
   * True when `workerId` is `ancestorId` or was spawned, directly or not, by it. A deleted worker
   * answers from its transcript's ancestry, recorded while it ran (its transcript outlives it).
   */
  async isWithin(workerId: string, ancestorId: string): Promise<boolean> {
    let current: string | undefined = workerId
    for (let hops = 0; current && hops < 32; hops++) {
      if (current === ancestorId) return true
      const at: string = current
      const record: WorkerRecord | TranscriptOwner = await this.store
        .get(at)
        .catch(async (err: unknown) => {
          const owner =
            err instanceof NotFoundError
              ? await this.ctx.transcripts.owner(at).catch(() => undefined)
              : undefined
          if (!owner) throw err
          return owner
        })
      if (!('workerId' in record)) return record.ancestors.includes(ancestorId)
      current = record.parentId
    }
    return false
  }

  /**
   * Narrows `raw` to what the parent may give a sub-worker, checks the quotas and holds the
   * new worker's place in them while `start` makes it.
   */
  async spawn<T>(
    parentId: string,
    raw: WorkerConfig,
    workerId: string,
    start: (parent: WorkerRecord, config: WorkerConfig) => Promise<T>,
  ): Promise<T> {
    const { rootId } = await this.store.get(parentId)
    // Quotas are counted where the tree lives: a worker spawns through its own instance.
    if (!this.store.has(parentId)) {
      throw new ForbiddenError(
        `worker '${parentId}' belongs to another instance: spawn sub-workers through the instance that runs it`,
        'not_your_instance',
      )
    }
    const { parent, config } = await this.locked(rootId, async () => {
      const parent = await this.store.get(parentId)
      const config = narrowChild(parent, raw, this.ctx.now(), this.ledger.available(parentId))
      const reserved = [...this.reserved]
      const children = new Set([
        ...(await this.childrenOf(parentId)),
        ...reserved.filter(([, r]) => r.parentId === parentId).map(([id]) => id),
      ])
      if (children.size >= parent.maxChildren) {
        throw new ForbiddenError(
          `worker '${parentId}' already has ${children.size} sub-workers (maxChildren ${parent.maxChildren})`,
          'quota_exceeded',
        )
      }
      const tree = new Set([
        ...this.store
          .records()
          .filter((r) => !r.pool && r.rootId === rootId)
          .map((r) => r.workerId),
        ...reserved.filter(([, r]) => r.rootId === rootId).map(([id]) => id),
      ])
      const max = this.ctx.policy.maxTreeWorkers
      if (tree.size >= max) {
        throw new ForbiddenError(
          `the tree of '${rootId}' already has ${tree.size} workers (MAX_TREE_WORKERS ${max})`,
          'quota_exceeded',
        )
      }
      this.reserved.set(workerId, { parentId, rootId })
      return { parent, config }
    })
    try {
      return await start(parent, config)
    } finally {
      this.reserved.delete(workerId)
    }
  }

  /** `ttlSeconds` for `record`, cut so that a sub-worker never outlives its parent. */
  async lifetimeWithin(record: WorkerRecord, ttlSeconds: number): Promise<number> {
    if (!record.parentId) return ttlSeconds
    const parent = await this.store.get(record.parentId).catch(() => undefined)
    const parentEnds = parent
      ? parent.createdAt.getTime() + parent.ttlSeconds * 1000
      : this.ctx.now().getTime()
    return Math.max(
      1,
      Math.min(ttlSeconds, Math.floor((parentEnds - record.createdAt.getTime()) / 1000)),
    )
  }

  /** Runs `fn` after every earlier `fn` for the same key has settled. */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = before.then(() => new Promise<void>((r) => (release = r)))
    this.locks.set(key, mine)
    await before
    try {
      return await fn()
    } finally {
      release()
      if (this.locks.get(key) === mine) this.locks.delete(key)
    }
  }
}

/** 403 `not_wider_than_parent`, naming the config field at fault. */
export const wider = (path: string, message: string) =>
  new SpawnerError(
    'not_wider_than_parent',
    `a sub-worker cannot be wider than its parent: ${message}`,
    { details: [{ path, message }] },
  )

/** Seconds `record` has left before its TTL, rounded down. */
export const secondsLeft = (record: WorkerRecord, now: Date) =>
  Math.floor((record.createdAt.getTime() + record.ttlSeconds * 1000 - now.getTime()) / 1000)

const within = (path: string, dir: string) => {
  const d = dir.replace(/\/+$/, '')
  return path === d || path.startsWith(d + '/')
}

/**
 * Checks a sub-worker request against its parent and narrows it, so a child is never wider
 * than its parent. Permissions are refused when wider (plugins — and with them their secrets
 * and mounts —, tools, start-time env, workdir); quantities are capped at the parent's
 * (resources, TTL up to the parent's remaining lifetime, sub-worker levels and counts).
 * Counting children against `maxChildren` is the caller's job, under its tree lock.
 */
export const narrowChild = (
  parent: WorkerRecord,
  config: WorkerConfig,
  now: Date,
  available?: Budget,
): WorkerConfig => {
  if (parent.maxDepth < 1) {
    throw new ForbiddenError(
      `worker '${parent.workerId}' may not spawn sub-workers (maxDepth 0)`,
      'quota_exceeded',
    )
  }
  const allowed = new Set([parent.agent, ...parent.capabilities, ...parent.spawnablePlugins])
  const notAllowed = (names: readonly string[]) => names.filter((n) => !allowed.has(n))
  if (!allowed.has(config.agent)) {
    throw wider(
      'agent',
      `'${config.agent}' is neither the parent's plugin nor in its spawnablePlugins`,
    )
  }
  const caps = notAllowed(config.capabilities)
  if (caps.length)
    throw wider(
      'capabilities',
      `${caps.join(', ')}: neither the parent's plugins nor in its spawnablePlugins`,
    )
  const spawnable = notAllowed(config.spawnablePlugins)
  if (spawnable.length)
    throw wider('spawnablePlugins', `${spawnable.join(', ')}: not available to the parent`)
  const tools = config.allowedTools.filter((t) => !parent.allowedTools.includes(t))
  if (tools.length) {
    throw new ForbiddenError(
      `a sub-worker cannot get tools its parent lacks: ${tools.join(', ')}`,
      'tool_not_allowed',
    )
  }
  // Unset: the parent's own network, not the operator's default.
  const network = config.network ?? networkOf(parent)
  const netWhy = childNetworkRefusal(parent, resolveNetwork(network))
  if (netWhy) throw wider('network', netWhy)
  const budget = config.budget ?? available
  const budgetWhy = available && widerBudget(available, budget)
  if (budgetWhy) throw wider('budget', budgetWhy)
  const startEnv = START_ENV.filter((k) => k in config.env)
  if (startEnv.length)
    throw wider(`env.${startEnv[0]}`, `${startEnv.join(', ')} change how the container starts`)
  if (!within(config.workdir, parent.workdir)) {
    throw wider(
      'workdir',
      `'${config.workdir}' is outside the parent's workdir '${parent.workdir}'`,
    )
  }
  const left = secondsLeft(parent, now)
  if (left < 1) throw wider('ttlSeconds', `the parent '${parent.workerId}' has reached its TTL`)
  const r = parent.resources
  // Zero means "no limit" to Docker: a parent whose limits are unknown passes none on.
  if (!(r.memoryMb >= 64 && r.cpus > 0 && r.pids >= 16))
    throw wider('resources', "the parent's limits are unknown")
  return {
    ...config,
    network,
    ...(budget ? { budget } : {}),
    ttlSeconds: Math.min(config.ttlSeconds, left),
    resources: {
      memoryMb: Math.min(config.resources.memoryMb, r.memoryMb),
      cpus: Math.min(config.resources.cpus, r.cpus),
      pids: Math.min(config.resources.pids, r.pids),
    },
    maxDepth: Math.min(config.maxDepth, parent.maxDepth - 1),
    maxChildren: Math.min(config.maxChildren, parent.maxChildren),
  }
}

/** Refuses a child mount its parent does not have (same source, target and no more write access). */
export const assertChildMounts = (
  parent: WorkerRecord,
  mounts: readonly WorkerRecord['mounts'][number][],
) => {
  for (const m of mounts) {
    const has = parent.mounts.some(
      (p) => p.source === m.source && p.target === m.target && (m.readOnly || !p.readOnly),
    )
    if (!has)
      throw wider(
        'capabilities',
        `the host mount ${m.source} → ${m.target}, which the parent does not have`,
      )
  }
}
