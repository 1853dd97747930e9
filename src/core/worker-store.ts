import { Mac } from './auth/mac.ts'
import type { CoreContext } from './context.ts'
import { ConflictError, NotFoundError } from './errors.ts'
import { LABELS } from './labels.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import type { ContainerInfo } from './runtime.ts'
import { recordFromContainer, type WorkerRecord } from './worker-record.ts'
import {
  applyState,
  readWorkerState,
  StateFileError,
  stateOf,
  writeWorkerState,
} from './worker-state.ts'

/**
 * The workers (and warm pool containers) this instance knows, and the signed state each keeps
 * (on the runtime's host or inside its container, see worker-state.ts). A worker not in memory
 * is rebuilt from its container: labels first, then its state (`restore`).
 */
export class WorkerStore {
  private readonly workers = new Map<string, WorkerRecord>()
  /** Agent plugin captured at create: a registry reload leaves running workers untouched. */
  private readonly agents = new Map<string, AgentPlugin>()
  /** The last state-file write of each worker (see `writeState`). */
  private readonly stateWrites = new Map<string, Promise<void>>()

  /** Signs the state files; a restarted service needs the same secret to trust them again. */
  private readonly mac: Mac

  constructor(private readonly ctx: CoreContext) {
    this.mac = new Mac(ctx.secret, 'worker state v2')
  }

  /** Records held here (workers and pool containers). */
  records(): WorkerRecord[] {
    return [...this.workers.values()]
  }

  /** True when this instance holds the record (a worker or a pool container). */
  has(workerId: string): boolean {
    return this.workers.has(workerId)
  }

  /** The record held for `workerId` (a worker or a pool container), without looking further. */
  held(workerId: string): WorkerRecord | undefined {
    return this.workers.get(workerId)
  }

  /** Holds `record`, with the agent it runs when known. */
  keep(record: WorkerRecord, agent?: AgentPlugin) {
    this.workers.set(record.workerId, record)
    if (agent) this.agents.set(record.workerId, agent)
  }

  forget(workerId: string) {
    this.workers.delete(workerId)
    this.agents.delete(workerId)
  }

  /** Finds a worker by id: from memory, else from container labels (e.g. after a restart). */
  async get(workerId: string): Promise<WorkerRecord> {
    const known = this.workers.get(workerId)
    if (known && !known.pool) return known
    if (known) throw new NotFoundError(`no worker '${workerId}'`, 'worker_not_found')
    const [info] = await this.ctx.runtime.list({
      [LABELS.workerId]: workerId,
      [LABELS.managed]: 'true',
    })
    const record =
      info &&
      (await this.restore(info).catch((err) => {
        if (!(err instanceof StateFileError)) throw err
        this.ctx.logger.warn('worker container refused: its state cannot be trusted', {
          workerId,
          reason: err.message,
        })
        return undefined
      }))
    if (!record || record.pool)
      throw new NotFoundError(`no worker '${workerId}'`, 'worker_not_found')
    // Another instance's worker is looked at, never taken over: its deadlines stay its owner's
    // (a takeover is `adopt`, decided by whoever knows the owner is gone).
    if (record.instance === this.ctx.opts.instance) this.workers.set(workerId, record)
    return record
  }

  /** Takes over a worker of another instance (its owner is gone): this one now runs its deadlines. */
  async adopt(workerId: string): Promise<WorkerRecord> {
    const record = await this.get(workerId)
    this.workers.set(workerId, record)
    return record
  }

  /**
   * A record rebuilt from a container's labels and its signed state file; undefined if the
   * labels are not ours. A worker whose create wrote nothing after the start has no state file
   * until its first change (`stateInLabels`): its labels are its state. Throws StateFileError
   * when the state file is missing otherwise (the create never finished), forged, or out of
   * bounds: such a container is never served.
   */
  async restore(info: ContainerInfo): Promise<WorkerRecord | undefined> {
    const record = recordFromContainer(info)
    if (!record) return undefined
    const state = await readWorkerState(
      this.ctx.runtime,
      record.containerId,
      record.workerId,
      this.mac,
    )
    if (!state && info.labels[LABELS.stateInLabels] === 'true') {
      record.persistedActiveAt = record.createdAt.getTime()
      return record
    }
    if (!state) throw new StateFileError('no state file: its create never finished')
    // Signed, so written by a service with this key; the clock checks catch a skewed writer.
    const latest = this.ctx.now().getTime() + 5 * 60_000
    const createdAt = Date.parse(state.createdAt)
    if (
      createdAt > latest ||
      Date.parse(state.lastActiveAt) > latest ||
      createdAt < record.createdAt.getTime()
    ) {
      throw new StateFileError('state file times are out of bounds')
    }
    return applyState(record, state)
  }

  /**
   * Writes the worker's state file. Writes of one worker go one after another, in the order they
   * were asked for, each with the record as it was then: a background activity write started
   * before an `update` can never land after it and undo it.
   */
  writeState(r: WorkerRecord): Promise<void> {
    const state = stateOf(r)
    const before = this.stateWrites.get(r.workerId) ?? Promise.resolve()
    const write = before
      .catch(() => undefined)
      .then(() => writeWorkerState(this.ctx.runtime, r.containerId, r.workerId, this.mac, state))
    const tail = write.catch(() => undefined)
    this.stateWrites.set(r.workerId, tail)
    void tail.then(() => {
      if (this.stateWrites.get(r.workerId) === tail) this.stateWrites.delete(r.workerId)
    })
    return write
  }

  /** The agent a worker runs: the one captured at create, else the one loaded now. */
  agentFor(record: WorkerRecord): AgentPlugin {
    const captured = this.agents.get(record.workerId)
    if (captured) return captured
    const plugin = this.ctx.opts.plugins().get(record.agent)
    if (!plugin || plugin.kind !== 'agent') {
      throw new ConflictError(
        `worker '${record.workerId}' runs agent '${record.agent}', which is not loaded now`,
        'agent_unavailable',
      )
    }
    this.agents.set(record.workerId, plugin)
    return plugin
  }
}
