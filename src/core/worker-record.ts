import { LABELS } from './labels.ts'
import { LABEL_PREFIX } from './config.ts'
import type { ContainerInfo } from './runtime.ts'
import type { WorkerState, WorkerStatus } from './schemas.ts'
import type { Budget, ContainerNetwork } from './config.ts'
import { budgetSchema } from './config.ts'
import { noSpend, type Spend } from './budget.ts'
import { networkOf } from './network.ts'
import { egressListSchema } from './config.ts'
import { permissionsView, type PermissionState } from './permission-schemas.ts'

/** What the service remembers of one worker. Rebuilt from container labels when absent. */
export interface WorkerRecord {
  workerId: string
  containerId: string
  agent: string
  capabilities: string[]
  image: string
  workdir: string
  labels: Record<string, string>
  createdAt: Date
  lastActiveAt: Date
  ttlSeconds: number
  idleSeconds: number
  state: WorkerState
  runningCommands: number
  /** Instance that created it (label), when known. */
  instance?: string
  /** Warm-pool key while the container waits in a pool; undefined once it is a worker. */
  pool?: string
  /** Env given to every command: a pool container's config env, applied at hand-out. */
  env: Record<string, string>
  /** When lastActiveAt was last written to the state file (ms since epoch). */
  persistedActiveAt: number
  /** Set while a pause is on its way, so a command waits for it and then resumes. */
  pausing?: Promise<unknown>
  /** Prompts and the token usage and cost their CLIs reported, summed. */
  usage?: AgentUsage
  /** The worker that spawned it (orchestrator `spawn`). */
  parentId?: string
  /** 0 for a worker made by an operator, parent's depth + 1 for a sub-worker. */
  depth: number
  /** The operator-made worker at the top of its tree (itself for a root). */
  rootId: string
  allowedTools: string[]
  maxChildren: number
  maxDepth: number
  /** Plugins its sub-workers may use besides its own. */
  spawnablePlugins: string[]
  /** Its limits: a sub-worker never gets more. */
  resources: { memoryMb: number; cpus: number; pids: number }
  /** Host mounts it has: a sub-worker gets none it lacks. */
  mounts: { source: string; target: string; readOnly: boolean }[]
  /** What its container reaches: a sub-worker of an isolated worker is isolated too. */
  network: ContainerNetwork
  /** Host patterns its egress proxy lets through; undefined: no proxy. */
  egress?: string[]
  /** What it may spend on model calls (its sub-workers' calls count too). */
  budget?: Budget
  /** Its own model calls, measured at the gateway. */
  spend?: Spend
  /** Model calls of its sub-workers that are gone: they still count against its budgets. */
  spentBelow?: Spend
  /** Connections out its egress proxy let through and refused (since this process started). */
  connections?: { allowed: number; denied: number }
  /** Its permission rules and requests; undefined: it skips permissions. */
  permissions?: PermissionState
}

export interface AgentUsage {
  prompts: number
  inputTokens: number
  outputTokens: number
  costUsd: number
}

/** A new worker id: `w-` and 16 hex digits. */
export const newWorkerId = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return 'w-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Adds one reply's usage to a worker's totals. */
export const addUsage = (
  r: WorkerRecord,
  u: { inputTokens?: number; outputTokens?: number; costUsd?: number } | undefined,
) => {
  const t = (r.usage ??= { prompts: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 })
  t.prompts++
  t.inputTokens += u?.inputTokens ?? 0
  t.outputTokens += u?.outputTokens ?? 0
  t.costUsd += u?.costUsd ?? 0
}

/** Rebuilds a record from a container's labels, or `undefined` when they are not ours. */
export const recordFromContainer = (info: ContainerInfo): WorkerRecord | undefined => {
  const l = info.labels
  const workerId = l[LABELS.workerId]
  const agent = l[LABELS.agent]
  const createdAt = new Date(l[LABELS.createdAt] ?? '')
  if (!workerId || !agent || Number.isNaN(createdAt.getTime())) return undefined
  const ttlSeconds = Number(l[LABELS.ttlSeconds] ?? 86_400)
  const idleSeconds = Number(l[LABELS.idleSeconds] ?? 900)
  if (
    !Number.isInteger(ttlSeconds) ||
    ttlSeconds < 1 ||
    !Number.isInteger(idleSeconds) ||
    idleSeconds < 0
  )
    return undefined
  const userLabels = Object.fromEntries(
    Object.entries(l).filter(([k]) => !k.startsWith(LABEL_PREFIX)),
  )
  return {
    workerId,
    containerId: info.id,
    agent,
    capabilities: (l[LABELS.capabilities] ?? '').split(',').filter(Boolean),
    image: info.image,
    workdir: l[LABELS.workdir] ?? '/workspace',
    labels: userLabels,
    createdAt,
    lastActiveAt: createdAt,
    ttlSeconds,
    idleSeconds,
    state: stateFromContainer(info.state),
    runningCommands: 0,
    ...(l[LABELS.instance] ? { instance: l[LABELS.instance] } : {}),
    ...(l[LABELS.pool] ? { pool: l[LABELS.pool] } : {}),
    env: {},
    persistedActiveAt: 0,
    ...(l[LABELS.parent] ? { parentId: l[LABELS.parent] } : {}),
    depth: Number(l[LABELS.depth] ?? 0),
    rootId: l[LABELS.root] ?? workerId,
    allowedTools: (l[LABELS.allowedTools] ?? '').split(',').filter(Boolean),
    maxChildren: Number(l[LABELS.maxChildren] ?? 0),
    maxDepth: Number(l[LABELS.maxDepth] ?? 0),
    // Labels the service wrote at create; where one is missing or unreadable (a container of an
    // older version), the worker passes nothing on to sub-workers.
    spawnablePlugins: (l[LABELS.spawnablePlugins] ?? '').split(',').filter(Boolean),
    resources: resourcesOf(l[LABELS.resources]),
    mounts: mountsOf(l[LABELS.mounts]),
    network: l[LABELS.network] === 'open' ? 'open' : 'isolated',
    ...jsonLabel('egress', egressListSchema, l[LABELS.egress]),
    ...jsonLabel('budget', budgetSchema, l[LABELS.budget]),
  }
}

/** `{ [key]: value }` from a JSON label that parses with `schema`, else `{}`. */
const jsonLabel = <K extends string, T>(
  key: K,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  label: string | undefined,
): { [P in K]?: T } => {
  if (!label) return {}
  try {
    const parsed = schema.safeParse(JSON.parse(label))
    return parsed.success ? ({ [key]: parsed.data } as { [P in K]?: T }) : {}
  } catch {
    return {}
  }
}

const resourcesOf = (label: string | undefined): WorkerRecord['resources'] => {
  const [memoryMb, cpus, pids] = (label ?? '').split(',').map(Number)
  const ok = [memoryMb, cpus, pids].every((n) => n !== undefined && Number.isFinite(n) && n > 0)
  return ok ? { memoryMb: memoryMb!, cpus: cpus!, pids: pids! } : { memoryMb: 0, cpus: 0, pids: 0 }
}

const mountsOf = (label: string | undefined): WorkerRecord['mounts'] => {
  if (!label) return []
  try {
    const parsed: unknown = JSON.parse(label)
    if (!Array.isArray(parsed)) return []
    return parsed.flatMap((m: { source?: unknown; target?: unknown; readOnly?: unknown }) =>
      typeof m?.source === 'string' && typeof m.target === 'string'
        ? [{ source: m.source, target: m.target, readOnly: m.readOnly !== false }]
        : [],
    )
  } catch {
    return []
  }
}

/** Maps a container state onto the worker states callers see. */
export const stateFromContainer = (state: ContainerInfo['state']): WorkerState => {
  switch (state) {
    case 'running':
    case 'restarting':
      return 'running'
    case 'paused':
      return 'paused'
    case 'created':
      return 'creating'
    case 'removing':
      return 'deleted'
    case 'dead':
      return 'failed'
    default:
      return 'exited'
  }
}

/** The public view of a record. */
export const toStatus = (r: WorkerRecord, treeSpend?: Spend): WorkerStatus => ({
  workerId: r.workerId,
  state: r.state,
  agent: r.agent,
  capabilities: r.capabilities,
  image: r.image,
  workdir: r.workdir,
  labels: r.labels,
  createdAt: r.createdAt.toISOString(),
  lastActiveAt: r.lastActiveAt.toISOString(),
  ttlSeconds: r.ttlSeconds,
  idleSeconds: r.idleSeconds,
  expiresAt: new Date(r.createdAt.getTime() + r.ttlSeconds * 1000).toISOString(),
  idleDeadline:
    r.idleSeconds === 0
      ? null
      : new Date(r.lastActiveAt.getTime() + r.idleSeconds * 1000).toISOString(),
  commandRunning: r.runningCommands > 0,
  agentState: r.runningCommands > 0 ? 'running' : 'idle',
  usage: r.usage ?? { prompts: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
  allowedTools: r.allowedTools,
  ...(r.parentId ? { parentId: r.parentId } : {}),
  network: networkOf(r),
  ...(r.budget ? { budget: r.budget } : {}),
  spend: r.spend ?? noSpend(),
  connections: r.connections ?? { allowed: 0, denied: 0 },
  treeSpend: treeSpend ?? r.spend ?? noSpend(),
  permissions: permissionsView(r.permissions),
})
