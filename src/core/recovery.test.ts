import { describe, expect, it } from 'vitest'
import { memoryService } from '../../test/support/memory-service.ts'
import { UnavailableError } from './errors.ts'
import { LABELS } from './labels.ts'
import { noopLogger } from './logger.ts'
import { recoverWorkers } from './recovery.ts'

const T0 = Date.parse('2026-06-01T00:00:00Z')

describe('recovery after a restart', () => {
  it('knows its workers again with their deadlines, and removes the expired and the stopped', async () => {
    let clock = T0
    const now = () => new Date(clock)
    const first = memoryService({ instance: 'a', now })
    const running = await first.create({ ttlSeconds: 3600, idleSeconds: 600 })
    const paused = await first.create({ ttlSeconds: 3600 })
    const expiring = await first.create({ ttlSeconds: 10 })
    const updated = await first.create({ ttlSeconds: 60 })
    const stopped = await first.create({ ttlSeconds: 3600 })
    await first.service.pause({ workerId: paused.workerId })
    await first.service.update({ workerId: updated.workerId, ttlSeconds: 7200, idleSeconds: 30 })
    first.runtime.containers.get(await first.containerOf(stopped.workerId))!.state = 'exited'
    const before = await first.service.status({ workerId: updated.workerId })
    const theirs = await memoryService({ instance: 'b', runtime: first.runtime }).create()

    clock += 60_000
    const second = memoryService({ instance: 'a', now, runtime: first.runtime })
    const report = await recoverWorkers(second.service, {
      instance: 'a',
      logger: noopLogger,
      now: () => clock,
    })
    expect(report.recovered.sort()).toEqual(
      [running, paused, updated].map((w) => w.workerId).sort(),
    )
    expect(report.expired).toEqual([expiring.workerId])
    expect(report.broken).toEqual([
      { containerId: expect.any(String), reason: 'container is exited' },
    ])
    expect(second.statusEvents(expiring.workerId)).toEqual(['deleted:ttl'])
    expect(await second.service.status({ workerId: updated.workerId })).toMatchObject({
      ttlSeconds: 7200,
      idleSeconds: 30,
      createdAt: before.createdAt,
      expiresAt: before.expiresAt,
    })
    expect((await second.service.status({ workerId: paused.workerId })).state).toBe('paused')
    // Another instance's worker is neither taken nor touched.
    expect(second.service.records().map((r) => r.workerId)).not.toContain(theirs.workerId)
    expect(first.runtime.containers.size).toBe(4)
  })

  it('removes a container with our labels but no worker id, and skips one the engine cannot read now', async () => {
    const first = memoryService({ instance: 'a' })
    const kept = await first.create({ files: { 'notes.txt': 'hi' } })
    const spec = first.runtime.specs.get(await first.containerOf(kept.workerId))!
    const broken = await first.runtime.run({
      ...spec,
      name: 'broken',
      labels: { [LABELS.managed]: 'true', [LABELS.instance]: 'a' },
    })
    first.runtime.getFile = async () => {
      throw new UnavailableError('engine busy')
    }
    const report = await recoverWorkers(
      memoryService({ instance: 'a', runtime: first.runtime }).service,
      {
        instance: 'a',
        logger: noopLogger,
      },
    )
    expect(report.broken).toEqual([
      { containerId: broken, reason: expect.stringContaining('labels incomplete') },
    ])
    expect(report.skipped).toEqual([{ containerId: expect.any(String), reason: 'engine busy' }])
    expect(await first.runtime.inspect(broken)).toBeUndefined()
    expect(first.runtime.containers.size).toBe(1)
  })
})
