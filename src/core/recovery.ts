import { LABELS } from './labels.ts'
import type { Logger } from './logger.ts'
import type { WorkerService } from './service.ts'
import { StateFileError } from './worker-state.ts'

/** What a start-up scan found. */
export interface RecoveryReport {
  /** Workers (and pool containers) known again, with their deadlines. */
  recovered: string[]
  /** Past their TTL while the spawner was down: removed. */
  expired: string[]
  /** Carrying our labels but unusable (labels incomplete, untrusted state, container stopped): removed. */
  broken: { containerId: string; reason: string }[]
  /** Could not be looked at now (the engine failed to answer): left alone, found again later. */
  skipped: { containerId: string; reason: string }[]
}

/**
 * Rebuilds the service's state from Docker after a (re)start: every container with our labels
 * that this instance created (same `workers-spawner.instance` label) is known again with its deadlines taken
 * from its labels and state file; expired and broken ones are removed.
 */
export const recoverWorkers = async (
  service: WorkerService,
  opts: { instance?: string; logger: Logger; now?: () => number },
): Promise<RecoveryReport> => {
  const report: RecoveryReport = { recovered: [], expired: [], broken: [], skipped: [] }
  const now = (opts.now ?? Date.now)()
  const containers = await service.runtime.list({ [LABELS.managed]: 'true' })
  const ids = new Set(containers.map((c) => c.id))
  for (const info of containers) {
    // Each instance takes back only what it created; other instances' workers are theirs.
    if (info.labels[LABELS.instance] !== opts.instance) continue
    const broken = async (reason: string) => {
      report.broken.push({ containerId: info.id, reason })
      opts.logger.warn('broken worker container removed', { containerId: info.id, reason })
      await service.runtime.remove(info.id).catch(() => undefined)
    }
    if (!['running', 'paused', 'restarting'].includes(info.state)) {
      await broken(`container is ${info.state}`)
      continue
    }
    // Two containers of one worker: the service stopped before it removed the old one.
    if (ids.has(info.labels[LABELS.replaces] ?? '')) {
      await broken('a restore that did not finish')
      continue
    }
    let record
    try {
      record = await service.restore(info)
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      // Only a state file known to be missing or untrusted condemns a container; an engine that
      // failed to answer says nothing about it, and removing a worker cannot be undone.
      if (err instanceof StateFileError) {
        await broken(`state file: ${reason}`)
      } else {
        report.skipped.push({ containerId: info.id, reason })
        opts.logger.warn('worker container not recovered now', { containerId: info.id, reason })
      }
      continue
    }
    if (!record) {
      await broken('labels incomplete (worker id, agent or created-at missing)')
      continue
    }
    if (!record.pool && now >= record.createdAt.getTime() + record.ttlSeconds * 1000) {
      service.track(record)
      await service.delete({ workerId: record.workerId }, {}, 'ttl')
      report.expired.push(record.workerId)
      continue
    }
    service.track(record)
    report.recovered.push(record.workerId)
  }
  opts.logger.info('workers recovered', {
    recovered: report.recovered.length,
    expired: report.expired.length,
    broken: report.broken.length,
    skipped: report.skipped.length,
  })
  return report
}
