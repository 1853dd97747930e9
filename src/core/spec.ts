import type { WorkerConfig } from './config.ts'
import type { Plugin, PluginContext } from './plugin/contract.ts'
import {
  createContext,
  pluginEnv,
  pluginFault,
  pluginFileContents,
  pluginMounts,
  pluginTweak,
} from './plugin/hooks.ts'
import type { ContainerSpec } from './runtime.ts'
import { BadRequestError, type CodeOf } from './errors.ts'
import { LABELS } from './labels.ts'
import { DEFAULT_POLICY, mountRefusal, type WorkerPolicy } from './policy.ts'
import { gatewayVars, workerHostEnv, type Broker } from './gateway-access.ts'
import { egressEnv, resolveNetwork, type WorkerNetwork } from './network.ts'

/** Everything besides the config that decides a worker's container. */
export interface SpecContext {
  workerId: string
  image: string
  /** The spawner's environment: where declared secrets and host paths are read from. */
  hostEnv: Readonly<Record<string, string | undefined>>
  now: Date
  /** Instance that owns the worker, written as a label. */
  instance?: string
  extraHosts?: string[]
  /** The worker that spawned this one, its depth below the root, and the root's id. */
  parent?: { workerId: string; depth: number; rootId: string }
  /** What the operator allows plugins to ask for (default: `DEFAULT_POLICY`). */
  policy?: WorkerPolicy
  /** The worker's network, resolved (default: the config's, under `policy`). */
  net?: WorkerNetwork
  /**
   * The worker's gateway and egress proxy credential and URLs. Without it, model keys the
   * plugins declare for the gateway are withheld, never injected.
   */
  broker?: Broker
}

/** Linux capabilities are all dropped; a plugin may add back named ones. */
const CAP_DROP = ['ALL']
const WORKER_USER = '1000:1000'

/**
 * Turns a validated WorkerConfig and its plugins (in dependency order) into a container spec.
 * Pure: same inputs, same spec. Env precedence, lowest first: plugin `env()`, declared secrets
 * from the spawner's environment, the config's `env`.
 */
export const buildContainerSpec = (
  config: WorkerConfig,
  plugins: readonly Plugin[],
  ctx: SpecContext,
): ContainerSpec => {
  // Plugins see the spawner's environment with model keys swapped out (see `workerHostEnv`).
  const workerEnv = workerHostEnv(plugins, config.env, ctx.hostEnv, ctx.broker)
  const pctx = pluginContext(config, ctx.workerId, workerEnv)

  const env: Record<string, string> = {
    HOME: '/home/worker',
    WORKERS_SPAWNER_WORKER_ID: ctx.workerId,
    WORKERS_SPAWNER_WORKDIR: config.workdir,
  }
  for (const plugin of plugins) Object.assign(env, pluginEnv(plugin, pctx))
  for (const secret of collectSecrets(plugins, workerEnv)) env[secret.name] = secret.value
  Object.assign(env, gatewayVars(plugins, workerEnv))
  Object.assign(env, config.env)
  const policy = ctx.policy ?? DEFAULT_POLICY
  const net = ctx.net ?? resolveNetwork(config.network, policy.network)
  // With an allow list, connections out go through the proxy; the config cannot point elsewhere.
  if (net.egress && ctx.broker) Object.assign(env, egressEnv(ctx.broker.credential))

  const mounts = plugins.flatMap((plugin) => {
    const mounts = pluginMounts(plugin, pctx)
    for (const mount of mounts) {
      const why = mountRefusal(mount, policy.mounts)
      if (why) {
        throw new BadRequestError(
          `plugin '${plugin.name}' asks to mount ${mount.source} at ${mount.target}: the source ${why}`,
          [
            {
              path: 'capabilities',
              message: `'${plugin.name}' needs a host mount the operator does not allow`,
            },
          ],
          'mount_not_allowed',
        )
      }
    }
    return mounts
  })

  const tweak = mergeTweaks(plugins, pctx)
  const refuse = (
    what: string,
    setting: string,
    allowed: readonly string[],
    code: CodeOf<'bad_request'>,
  ): never => {
    throw new BadRequestError(
      `${what}, which the operator does not allow (${setting}: ${allowed.join(',') || 'none'})`,
      [{ path: 'capabilities', message: `not allowed by ${setting}` }],
      code,
    )
  }
  for (const cap of tweak.capAdd) {
    if (!policy.caps.includes(cap))
      refuse(
        `plugin '${tweak.capBy[cap]}' asks for capability ${cap}`,
        'ALLOWED_CAPS',
        policy.caps,
        'capability_not_allowed',
      )
  }
  if (tweak.runtime && !policy.runtimes.includes(tweak.runtime)) {
    refuse(
      `plugin '${tweak.runtimeBy}' asks for runtime ${tweak.runtime}`,
      'ALLOWED_RUNTIMES',
      policy.runtimes,
      'runtime_not_allowed',
    )
  }

  const labels: Record<string, string> = {
    ...config.labels,
    [LABELS.managed]: 'true',
    [LABELS.workerId]: ctx.workerId,
    [LABELS.agent]: config.agent,
    [LABELS.capabilities]: config.capabilities.join(','),
    [LABELS.createdAt]: ctx.now.toISOString(),
    [LABELS.ttlSeconds]: String(config.ttlSeconds),
    [LABELS.idleSeconds]: String(config.idleSeconds),
    [LABELS.workdir]: config.workdir,
    [LABELS.allowedTools]: config.allowedTools.join(','),
    [LABELS.maxChildren]: String(config.maxChildren),
    [LABELS.maxDepth]: String(config.maxDepth),
    [LABELS.depth]: String(ctx.parent ? ctx.parent.depth + 1 : 0),
    [LABELS.root]: ctx.parent ? ctx.parent.rootId : ctx.workerId,
    [LABELS.spawnablePlugins]: config.spawnablePlugins.join(','),
    [LABELS.network]: net.network,
  }
  if (net.egress) labels[LABELS.egress] = JSON.stringify(net.egress)
  if (config.budget) labels[LABELS.budget] = JSON.stringify(config.budget)
  if (config.checkpoint) labels[LABELS.checkpointKeep] = String(config.checkpoint.keep)
  if (ctx.parent) labels[LABELS.parent] = ctx.parent.workerId
  const { memoryMb, cpus, pids } = config.resources
  labels[LABELS.resources] = `${memoryMb},${cpus},${pids}`
  if (mounts.length > 0) labels[LABELS.mounts] = JSON.stringify(mounts)
  if (ctx.instance) labels[LABELS.instance] = ctx.instance

  const spec: ContainerSpec = {
    name: `workers-spawner-${ctx.workerId}`,
    image: ctx.image,
    env,
    labels,
    user: WORKER_USER,
    workdir: config.workdir,
    mounts,
    memoryBytes: config.resources.memoryMb * 1024 * 1024,
    nanoCpus: Math.round(config.resources.cpus * 1e9),
    pidsLimit: config.resources.pids,
    securityOpt: ['no-new-privileges:true'],
    capDrop: CAP_DROP,
    capAdd: tweak.capAdd,
    extraHosts: ctx.extraHosts ?? [],
    network: net.network,
  }
  if (tweak.runtime) spec.runtime = tweak.runtime
  // /dev/shm is memory: never more than the worker may use.
  if (tweak.shmSizeMb)
    spec.shmSizeBytes = Math.min(tweak.shmSizeMb, config.resources.memoryMb) * 1024 * 1024
  return spec
}

/** What plugin hooks are told about a worker. */
export const pluginContext = (
  config: WorkerConfig,
  workerId: string,
  hostEnv: Readonly<Record<string, string | undefined>>,
): PluginContext =>
  createContext({
    workerId,
    workdir: config.workdir,
    hostEnv,
    configEnv: config.env,
    agent: config.agent,
    capabilities: config.capabilities,
  })

const HOME = '/home/worker'

/**
 * The files plugins ask for (`files(ctx)`), in plugin order, with `~/` expanded to the
 * worker's home. A path that is relative or climbs with `..` is the plugin's fault.
 */
export const pluginFiles = (
  plugins: readonly Plugin[],
  pctx: PluginContext,
): { path: string; content: string }[] =>
  plugins.flatMap((plugin) => {
    return Object.entries(pluginFileContents(plugin, pctx)).map(([key, content]) => {
      const path = key.startsWith('~/') ? `${HOME}/${key.slice(2)}` : key
      if (!path.startsWith('/') || path.split('/').includes('..')) {
        throw pluginFault(
          plugin.name,
          'files',
          `'${key}' must be absolute or start with ~/, without '..'`,
        )
      }
      return { path, content }
    })
  })

/** Declared secrets that are set in the spawner's environment, in plugin order. */
export const collectSecrets = (
  plugins: readonly Plugin[],
  hostEnv: Readonly<Record<string, string | undefined>>,
): { name: string; value: string }[] =>
  plugins.flatMap((p) =>
    (p.secrets ?? []).flatMap((s) => {
      const value = hostEnv[s.name]
      return value === undefined || value === '' ? [] : [{ name: s.name, value }]
    }),
  )

/** Throws a BadRequestError naming every required secret missing from the spawner's env. */
export const assertSecrets = (
  plugins: readonly Plugin[],
  hostEnv: Readonly<Record<string, string | undefined>>,
): void => {
  const missing = plugins.flatMap((p) =>
    (p.secrets ?? [])
      .filter((s) => s.required && !hostEnv[s.name])
      .map((s) => ({ plugin: p.name, name: s.name })),
  )
  if (missing.length === 0) return
  const list = missing.map((m) => `${m.name} (for '${m.plugin}')`).join(', ')
  throw new BadRequestError(
    `missing required secret${missing.length > 1 ? 's' : ''} in the spawner's environment: ${list}`,
    missing.map((m) => ({ path: `secrets.${m.name}`, message: `required by '${m.plugin}'` })),
    'missing_secret',
  )
}

/** The container runtime tweaks of all plugins, merged; conflicting runtimes are refused. */
export const mergeTweaks = (
  plugins: readonly Plugin[],
  pctx: PluginContext,
): {
  runtime?: string
  runtimeBy?: string
  capAdd: string[]
  capBy: Record<string, string>
  shmSizeMb?: number
} => {
  const out: {
    runtime?: string
    runtimeBy?: string
    capAdd: string[]
    capBy: Record<string, string>
    shmSizeMb?: number
  } = {
    capAdd: [],
    capBy: {},
  }
  for (const plugin of plugins) {
    const t = pluginTweak(plugin, pctx)
    if (t === undefined) continue
    if (t.runtime) {
      if (out.runtime && out.runtime !== t.runtime) {
        throw new BadRequestError(
          `'${out.runtimeBy}' needs runtime '${out.runtime}' but '${plugin.name}' needs '${t.runtime}'`,
          undefined,
          'runtime_conflict',
        )
      }
      out.runtime = t.runtime
      out.runtimeBy = plugin.name
    }
    for (const cap of t.capAdd ?? []) {
      if (out.capAdd.includes(cap)) continue
      out.capAdd.push(cap)
      out.capBy[cap] = plugin.name
    }
    if (t.shmSizeMb) out.shmSizeMb = Math.max(out.shmSizeMb ?? 0, t.shmSizeMb)
  }
  return out
}
