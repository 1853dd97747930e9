import { START_ENV, workerConfigSchema, type WorkerConfig } from './config.ts'
import { LABELS } from './labels.ts'
import type { Logger } from './logger.ts'
import { noopLogger } from './logger.ts'
import type { PoolHost, PoolLevel, PoolSource } from './pool-host.ts'
import type { WorkerRecord } from './worker-record.ts'

/** One warm pool: how many started containers to keep for an agent and capability set. */
export interface PoolSpec {
  key: string
  agent: string
  capabilities: string[]
  size: number
}

/** The pool a config would draw from: agent plus capabilities, order-insensitive. */
export const poolKey = (agent: string, capabilities: readonly string[]) =>
  [agent, ...[...capabilities].sort()].join('+')

/**
 * Parses `WARM_POOLS`: entries `agent[+capability…]=N` separated by spaces or commas,
 * e.g. `shell=2 claude-code+git+node=1`. Throws with the entry at fault.
 */
export const parsePoolSpecs = (text: string): PoolSpec[] =>
  text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((entry) => {
      const m = /^([a-z][a-z0-9-]*(?:\+[a-z][a-z0-9-]*)*)=(\d{1,3})$/.exec(entry)
      if (!m) throw new Error(`WARM_POOLS: '${entry}' is not agent[+capability…]=N`)
      const [agent, ...capabilities] = m[1]!.split('+') as [string, ...string[]]
      return { key: poolKey(agent, capabilities), agent, capabilities, size: Number(m[2]) }
    })

const DEFAULTS = workerConfigSchema.parse({ agent: 'x' })

/**
 * Keeps N started containers ready per (agent, capabilities). `create` takes one when the
 * config matches — same plugins, no network of its own (the default), workdir and resources, no start-time env —
 * and gets its files, env, labels and deadlines applied at hand-out; the pool refills in the
 * background. Pool containers run no TTL until handed out.
 * @example
 * const pools = new WarmPools(service, parsePoolSpecs('shell=2'))
 * pools.start() // service.create now takes from the pools
 */
export class WarmPools implements PoolSource {
  private readonly ready = new Map<string, WorkerRecord[]>()
  private readonly filling = new Set<string>()
  private closed = false
  private readonly logger: Logger

  constructor(
    private readonly host: PoolHost,
    readonly specs: PoolSpec[],
    opts: { logger?: Logger } = {},
  ) {
    this.logger = opts.logger ?? noopLogger
  }

  /** Serves the host's creates, takes back pool containers found at start-up, fills every pool. */
  start(): void {
    this.host.usePool(this)
    for (const r of this.host.records()) {
      if (!r.pool) continue
      if (!this.specs.some((s) => s.key === r.pool)) {
        void this.host.runtime.remove(r.containerId).catch(() => undefined)
        continue
      }
      this.queue(r.pool).push(r)
    }
    this.refill()
  }

  /** How many containers wait in each pool. */
  sizes(): Record<string, number> {
    return Object.fromEntries(this.specs.map((s) => [s.key, this.queue(s.key).length]))
  }

  levels(): PoolLevel[] {
    return this.specs.map((s) => ({ ...s, ready: this.queue(s.key).length }))
  }

  /**
   * A ready container for `config`, or undefined (then `create` starts a fresh one). The
   * caller calls `refill` once the container is handed out.
   */
  take(config: WorkerConfig): WorkerRecord | undefined {
    if (this.closed) return undefined
    const key = poolKey(config.agent, config.capabilities)
    const q = this.ready.get(key)
    if (!q?.length || !matches(config)) return undefined
    return q.shift()
  }

  /** Starts what is missing in every pool, one container at a time per pool. */
  refill(): void {
    if (this.closed) return
    for (const spec of this.specs) {
      if (this.filling.has(spec.key) || this.queue(spec.key).length >= spec.size) continue
      this.filling.add(spec.key)
      void this.startOne(spec).then(
        () => {
          this.filling.delete(spec.key)
          this.refill()
        },
        (err: unknown) => {
          // A failed fill waits for the next hand-out or start instead of spinning.
          this.filling.delete(spec.key)
          this.logger.warn('warm pool fill failed', {
            pool: spec.key,
            error: err instanceof Error ? err.message : String(err),
          })
        },
      )
    }
  }

  private async startOne(spec: PoolSpec) {
    const config = workerConfigSchema.parse({
      agent: spec.agent,
      capabilities: spec.capabilities,
      idleSeconds: 0,
    })
    const { resolved, spec: containerSpec, workerId, createdAt } = await this.host.prepare(config)
    const { record } = await this.host.startContainer(
      config,
      resolved,
      workerId,
      createdAt,
      containerSpec,
      {
        [LABELS.pool]: spec.key,
      },
    )
    if (this.closed) {
      await this.host.runtime.remove(record.containerId)
      return
    }
    this.host.adoptPooled(record, resolved.agent)
    this.queue(spec.key).push(record)
    this.logger.debug('warm pool container ready', { pool: spec.key, workerId })
  }

  private queue(key: string): WorkerRecord[] {
    let q = this.ready.get(key)
    if (!q) this.ready.set(key, (q = []))
    return q
  }

  /** Stops refilling; containers waiting in pools stay for the next start to take back. */
  close(): void {
    this.closed = true
  }
}

const matches = (config: WorkerConfig) =>
  // The pool's containers have the operator's default network (and proxy env when it has one).
  config.network === undefined &&
  config.workdir === DEFAULTS.workdir &&
  config.resources.memoryMb === DEFAULTS.resources.memoryMb &&
  config.resources.cpus === DEFAULTS.resources.cpus &&
  config.resources.pids === DEFAULTS.resources.pids &&
  // A pool container has already started: start-time env cannot take effect any more.
  !START_ENV.some((k) => k in config.env)
