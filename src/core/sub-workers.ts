import type { WorkerConfig } from './config.ts'
import { ForbiddenError } from './errors.ts'
import { LABELS } from './labels.ts'
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

/**
 * Checks a sub-worker request against its parent's quotas and narrows it: a child gets at
 * most its parent's tools, and fewer levels below it.
 */
export const admitChild = async (service: WorkerService, parentId: string, config: WorkerConfig) => {
  const record = await service.get(parentId)
  if (record.maxDepth < 1) {
    throw new ForbiddenError(`worker '${parentId}' may not spawn sub-workers (maxDepth 0)`, 'quota_exceeded')
  }
  const children = await childrenOf(service, parentId)
  if (children.length >= record.maxChildren) {
    throw new ForbiddenError(
      `worker '${parentId}' already has ${children.length} sub-workers (maxChildren ${record.maxChildren})`,
      'quota_exceeded',
    )
  }
  const extra = config.allowedTools.filter((t) => !record.allowedTools.includes(t))
  if (extra.length > 0) {
    throw new ForbiddenError(`a sub-worker cannot get tools its parent lacks: ${extra.join(', ')}`, 'tool_not_allowed')
  }
  return {
    record,
    config: {
      ...config,
      maxDepth: Math.min(config.maxDepth, record.maxDepth - 1),
      maxChildren: Math.min(config.maxChildren, record.maxChildren),
    },
  }
}
