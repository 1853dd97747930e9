import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { WorkerService } from '../core/service.ts'
import type { WarmPools } from '../core/pool.ts'
import type { SpawnerEvent } from '../core/events.ts'
import type { Measure } from '../core/measures.ts'
import type { MetricsSource } from '../http/metrics-route.ts'
import { sseOpenStreams, sseQueuedBytes } from '../http/sse.ts'
import type { RedisAdapter } from '../redis/index.ts'

export interface MetricsOptions {
  service: WorkerService
  pools?: WarmPools | undefined
  /** With REDIS_URL: consumer lag, pending and dead-lettered entries, the event buffer. */
  redis?: RedisAdapter | undefined
  /** SPAWNER_INSTANCE: whose own command stream (forwarded commands) is measured too. */
  instance?: string
  /** Node's own process metrics (`process_*`, `nodejs_*`); default on. */
  processMetrics?: boolean
}

/** A `MetricsSource` that also stops listening to the service. */
export interface Metrics extends MetricsSource {
  readonly registry: Registry
  close(): void
}

const SECONDS_CREATE = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
const SECONDS_COMMAND = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900]
const SECONDS_BUILD = [1, 5, 15, 30, 60, 120, 300, 600, 1200]

/** `XINFO GROUPS` answers flat arrays of field, value, field, value… */
const fieldsOf = (flat: unknown[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

/**
 * The service's metrics in a prom-client registry of their own: counters and histograms fed by
 * the service's events and measures, gauges read at scrape time. Every label comes from a
 * bounded set: agent plugin names (anything else is `other`), states, fixed words. Never a
 * worker id, a label or anything else a caller picks.
 * @example
 * const metrics = createMetrics({ service: spawner.service, pools: spawner.pools })
 * spawner.api({ metrics })
 */
export const createMetrics = (opts: MetricsOptions): Metrics => {
  const { service } = opts
  const registry = new Registry()
  const registers = [registry]
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry })

  // Plugin names are the operator's: installed plugins only, whatever an event claims.
  let known = new Set<string>()
  /** A label for `name`; `fresh` reads the registry again (once per scrape or measure). */
  const agentLabel = (name: string, fresh = true) => {
    if (fresh) known = new Set(service.plugins().plugins.map((p) => p.name))
    return name === 'none' || known.has(name) ? name : 'other'
  }

  new Gauge({
    name: 'spawner_workers',
    help: 'Workers this instance holds, by state and agent (warm-pool containers not included).',
    labelNames: ['state', 'agent'],
    registers,
    collect() {
      this.reset()
      agentLabel('none')
      for (const r of service.records()) {
        if (r.pool) continue
        this.inc({ state: r.state, agent: agentLabel(r.agent, false) })
      }
    },
  })
  new Gauge({
    name: 'spawner_pool_ready',
    help: 'Containers waiting in each warm pool (WARM_POOLS).',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset()
      for (const [pool, n] of Object.entries(opts.pools?.sizes() ?? {})) this.set({ pool }, n)
    },
  })
  const creates = new Counter({
    name: 'spawner_worker_creates_total',
    help: 'Worker creates, by agent, source (pool or fresh container) and outcome.',
    labelNames: ['agent', 'source', 'outcome'],
    registers,
  })
  const createSeconds = new Histogram({
    name: 'spawner_worker_create_seconds',
    help: 'How long a create took, from the call to a running worker.',
    labelNames: ['agent', 'source'],
    buckets: SECONDS_CREATE,
    registers,
  })
  const poolHits = new Counter({
    name: 'spawner_pool_hits_total',
    help: 'Creates served by a warm-pool container.',
    labelNames: ['agent'],
    registers,
  })
  const poolMisses = new Counter({
    name: 'spawner_pool_misses_total',
    help: 'Creates that found no warm-pool container ready (with WARM_POOLS set).',
    labelNames: ['agent'],
    registers,
  })
  const builds = new Counter({
    name: 'spawner_image_builds_total',
    help: 'Derived images built (an agent plugin installed on the base image), by outcome.',
    labelNames: ['outcome'],
    registers,
  })
  const buildSeconds = new Histogram({
    name: 'spawner_image_build_seconds',
    help: 'How long a derived image took to build.',
    buckets: SECONDS_BUILD,
    registers,
  })
  const commands = new Counter({
    name: 'spawner_commands_total',
    help: 'Commands and prompts run in workers, by type (command, prompt), agent and outcome.',
    labelNames: ['type', 'agent', 'outcome'],
    registers,
  })
  const commandSeconds = new Histogram({
    name: 'spawner_command_seconds',
    help: 'How long a command or a prompt ran in its worker.',
    labelNames: ['type', 'agent'],
    buckets: SECONDS_COMMAND,
    registers,
  })
  const statusChanges = new Counter({
    name: 'spawner_worker_status_changes_total',
    help: 'Status events: workers entering a state, and why (request, ttl, idle, error).',
    labelNames: ['state', 'reason'],
    registers,
  })
  const tokens = new Counter({
    name: 'spawner_agent_tokens_total',
    help: 'Model tokens through the gateway, by agent plugin and kind (input, output, cache_read, cache_creation).',
    labelNames: ['agent', 'kind'],
    registers,
  })
  const cost = new Counter({
    name: 'spawner_agent_cost_usd_total',
    help: 'Model spend through the gateway in US dollars (MODEL_PRICES), by agent plugin.',
    labelNames: ['agent'],
    registers,
  })
  const modelCalls = new Counter({
    name: 'spawner_model_calls_total',
    help: 'Model calls through the gateway, by agent plugin.',
    labelNames: ['agent'],
    registers,
  })
  const budgetsHit = new Counter({
    name: 'spawner_budget_exhausted_total',
    help: 'Workers that used their budget up.',
    registers,
  })
  const egressDenied = new Counter({
    name: 'spawner_egress_denied_total',
    help: 'Connections out of workers the egress proxy refused.',
    registers,
  })
  const permissions = new Counter({
    name: 'spawner_permission_decisions_total',
    help: "Agents' permission requests answered, by decision (allow, deny).",
    labelNames: ['decision'],
    registers,
  })
  new Gauge({
    name: 'spawner_sse_subscribers',
    help: 'Event streams (SSE) open in this process.',
    registers,
    collect() {
      this.set(sseOpenStreams())
    },
  })
  new Gauge({
    name: 'spawner_sse_queued_bytes',
    help: 'Bytes queued for event-stream clients that have not read them yet.',
    registers,
    collect() {
      this.set(sseQueuedBytes())
    },
  })

  const redis = opts.redis
  if (redis) {
    const names = redis.consumer.names
    const streams: Record<string, string> = { commands: names.commands }
    if (opts.instance) streams.instance = names.instanceCommands(opts.instance)
    // One XINFO per stream per scrape, shared by the gauges that read it.
    let groups: Promise<Record<string, Record<string, unknown>>> | undefined
    const readGroups = () =>
      (groups ??= (async () => {
        const out: Record<string, Record<string, unknown>> = {}
        for (const [label, stream] of Object.entries(streams)) {
          const all = (await redis.redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][]
          const mine = all.map(fieldsOf).find((g) => g.name === names.group)
          if (mine) out[label] = mine
        }
        return out
      })().finally(() => setTimeout(() => (groups = undefined), 0)))
    const groupGauge = (name: string, help: string, field: string) =>
      new Gauge({
        name,
        help,
        labelNames: ['stream'],
        registers,
        async collect() {
          this.reset()
          for (const [stream, g] of Object.entries(await readGroups())) {
            const v = Number(g[field])
            if (Number.isFinite(v)) this.set({ stream }, v)
          }
        },
      })
    groupGauge(
      'spawner_redis_consumer_lag',
      "Entries of the command stream the consumer group has not read yet (stream: commands, or this instance's own).",
      'lag',
    )
    groupGauge(
      'spawner_redis_pending',
      'Entries read by the consumer group and not acknowledged yet.',
      'pending',
    )
    new Gauge({
      name: 'spawner_redis_dead_letters',
      help: 'Entries in the dead-letter stream (REDIS_DEAD_STREAM, capped by REDIS_DEAD_MAXLEN).',
      registers,
      async collect() {
        this.set(await redis.redis.xlen(names.dead).catch(() => 0))
      },
    })
    new Gauge({
      name: 'spawner_redis_event_buffer_bytes',
      help: 'Event bytes sent to Redis and not yet answered.',
      registers,
      collect() {
        this.set(redis.publisher.pendingBytes())
      },
    })
    new Gauge({
      name: 'spawner_redis_output_events_dropped',
      help: 'Output events dropped since start because Redis fell behind.',
      registers,
      collect() {
        this.set(redis.publisher.dropped())
      },
    })
  }

  const onMeasure = (m: Measure) => {
    switch (m.kind) {
      case 'create': {
        const agent = agentLabel(m.agent)
        creates.inc({ agent, source: m.source, outcome: m.outcome })
        if (m.outcome === 'ok') createSeconds.observe({ agent, source: m.source }, m.seconds)
        return
      }
      case 'pool':
        ;(m.hit ? poolHits : poolMisses).inc({ agent: agentLabel(m.agent) })
        return
      case 'image_build':
        builds.inc({ outcome: m.outcome })
        if (m.outcome === 'ok') buildSeconds.observe(m.seconds)
        return
      case 'command': {
        const agent = agentLabel(m.agent)
        commands.inc({ type: m.type, agent, outcome: m.outcome })
        commandSeconds.observe({ type: m.type, agent }, m.seconds)
        return
      }
    }
  }
  const onEvent = (e: SpawnerEvent) => {
    switch (e.type) {
      case 'status':
        statusChanges.inc({ state: e.state, reason: e.reason })
        return
      case 'usage': {
        const agent = agentLabel(e.plugin)
        modelCalls.inc({ agent })
        tokens.inc({ agent, kind: 'input' }, e.inputTokens)
        tokens.inc({ agent, kind: 'output' }, e.outputTokens)
        tokens.inc({ agent, kind: 'cache_read' }, e.cacheReadInputTokens)
        tokens.inc({ agent, kind: 'cache_creation' }, e.cacheCreationInputTokens)
        cost.inc({ agent }, e.costUsd)
        return
      }
      case 'budget':
        budgetsHit.inc()
        return
      case 'egress_denied':
        egressDenied.inc()
        return
      case 'permission_resolved':
        permissions.inc({ decision: e.decision })
        return
    }
  }
  const stops = [service.measures.subscribe(onMeasure), service.events.subscribe(onEvent)]
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close: () => stops.forEach((stop) => stop()),
  }
}
