import { START_ENV, type WorkerConfig } from './config.ts'
import { ForbiddenError, SpawnerError } from './errors.ts'
import { LABELS } from './labels.ts'
import type { WorkerRecord } from './worker-record.ts'
import type { WorkerService } from './service.ts'

/** Ids of the workers `workerId` spawned (from memory and from container labels). */
export const childrenOf = async (service: WorkerService, workerId: string): Promise<string[]> => {
  const ids = new Set(service.records().filter((r) => r.parentId === workerId).map((r) => r.workerId))
  for (const info of await service.runtime.list({ [LABELS.parent]: workerId, [LABELS.managed]: 'true' })) {
    const id = info.labels[LABELS.workerId]
    if (id) ids.add(id)
  }
  return [...ids]
}

/** True when `workerId` is `ancestorId` or was spawned, directly or not, by it. */
export const isWithin = async (service: WorkerService, workerId: string, ancestorId: string): Promise<boolean> => {
  let current: string | undefined = workerId
  for (let hops = 0; current && hops < 32; hops++) {
    if (current === ancestorId) return true
    current = (await service.get(current)).parentId
  }
  return false
}

/** 403 `not_wider_than_parent`, naming the config field at fault. */
export const wider = (path: string, message: string) =>
  new SpawnerError('not_wider_than_parent', 403, `a sub-worker cannot be wider than its parent: ${message}`, [
    { path, message },
  ])

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
export const narrowChild = (parent: WorkerRecord, config: WorkerConfig, now: Date): WorkerConfig => {
  if (parent.maxDepth < 1) {
    throw new ForbiddenError(`worker '${parent.workerId}' may not spawn sub-workers (maxDepth 0)`, 'quota_exceeded')
  }
  const allowed = new Set([parent.agent, ...parent.capabilities, ...parent.spawnablePlugins])
  const notAllowed = (names: readonly string[]) => names.filter((n) => !allowed.has(n))
  if (!allowed.has(config.agent)) {
    throw wider('agent', `'${config.agent}' is neither the parent's plugin nor in its spawnablePlugins`)
  }
  const caps = notAllowed(config.capabilities)
  if (caps.length) throw wider('capabilities', `${caps.join(', ')}: neither the parent's plugins nor in its spawnablePlugins`)
  const spawnable = notAllowed(config.spawnablePlugins)
  if (spawnable.length) throw wider('spawnablePlugins', `${spawnable.join(', ')}: not available to the parent`)
  const tools = config.allowedTools.filter((t) => !parent.allowedTools.includes(t))
  if (tools.length) {
    throw new ForbiddenError(`a sub-worker cannot get tools its parent lacks: ${tools.join(', ')}`, 'tool_not_allowed')
  }
  if (parent.network === 'isolated' && config.network !== 'isolated') {
    throw wider('network', `'${config.network}' reaches more than the parent's isolated network`)
  }
  const startEnv = START_ENV.filter((k) => k in config.env)
  if (startEnv.length) throw wider(`env.${startEnv[0]}`, `${startEnv.join(', ')} change how the container starts`)
  if (!within(config.workdir, parent.workdir)) {
    throw wider('workdir', `'${config.workdir}' is outside the parent's workdir '${parent.workdir}'`)
  }
  const left = secondsLeft(parent, now)
  if (left < 1) throw wider('ttlSeconds', `the parent '${parent.workerId}' has reached its TTL`)
  const r = parent.resources
  // Zero means "no limit" to Docker: a parent whose limits are unknown passes none on.
  if (!(r.memoryMb >= 64 && r.cpus > 0 && r.pids >= 16)) throw wider('resources', "the parent's limits are unknown")
  return {
    ...config,
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
export const assertChildMounts = (parent: WorkerRecord, mounts: readonly WorkerRecord['mounts'][number][]) => {
  for (const m of mounts) {
    const has = parent.mounts.some(
      (p) => p.source === m.source && p.target === m.target && (m.readOnly || !p.readOnly),
    )
    if (!has) throw wider('capabilities', `the host mount ${m.source} → ${m.target}, which the parent does not have`)
  }
}
