import type { WorkerConfig } from './config.ts'
import type { AgentPlugin } from './plugin/contract.ts'
import type { ContainerRuntime } from './runtime.ts'
import type { WorkerFactory } from './worker-factory.ts'
import type { WorkerRecord } from './worker-record.ts'

/** Where `create` takes a started container from before it starts one: a warm pool. */
export interface PoolSource {
  /**
   * A waiting container that fits `config`, now the caller's; undefined when none fits. The
   * pool refills only at the next `refill`, which the caller makes once its hand-out is over.
   */
  take(config: WorkerConfig): WorkerRecord | undefined
  /**
   * Starts what is missing in every pool. Called after a hand-out, not during it: a container
   * start takes the engine's (and the machine's) time that the hand-out's writes wait for.
   */
  refill(): void
  /** Each pool: what it keeps ready, and how many wait now. */
  levels(): PoolLevel[]
}

/** One warm pool's fill level. */
export interface PoolLevel {
  key: string
  agent: string
  capabilities: string[]
  /** How many it keeps. */
  size: number
  /** How many wait now. */
  ready: number
}

/**
 * What a warm pool needs from the service it fills containers for (`WorkerService` is one).
 * The pool and the service know each other only through this and `PoolSource`.
 */
export interface PoolHost {
  readonly runtime: ContainerRuntime
  /** Records the service holds, pool containers found at start-up among them. */
  records(): WorkerRecord[]
  prepare: WorkerFactory['prepare']
  startContainer: WorkerFactory['startContainer']
  /** Registers a container that waits in a pool (not visible as a worker). */
  adoptPooled(record: WorkerRecord, agent: AgentPlugin): void
  /** Makes `create` take matching containers from `pool` first (undefined: from none). */
  usePool(pool: PoolSource | undefined): void
}
