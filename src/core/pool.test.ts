import { describe, expect, it, vi } from 'vitest'
import { memoryService, refusal } from '../../test/support/memory-service.ts'
import { workerConfigSchema } from './config.ts'
import { UnavailableError } from './errors.ts'
import { LABELS } from './labels.ts'
import { noopLogger } from './logger.ts'
import { parsePoolSpecs, poolKey, WarmPools } from './pool.ts'
import { recoverWorkers } from './recovery.ts'
import { STATE_FILE } from './worker-state.ts'

const SHELL = [{ key: 'shell', agent: 'shell', capabilities: [], size: 1 }]

/** A service with a warm pool of one shell container, filled. */
const filled = async (opts: Parameters<typeof memoryService>[0] = {}) => {
  const m = memoryService({ instance: 'a', ...opts })
  const pools = new WarmPools(m.service, SHELL)
  pools.start()
  await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
  const pooled = m.service.records().find((r) => r.pool)!
  return { ...m, pools, pooled }
}

describe('warm pools', () => {
  it('hand out a started container with the config applied, then refill', async () => {
    let clock = Date.parse('2026-06-01T00:00:00Z')
    const { service, runtime, create, keptState, pools, pooled, statusEvents } = await filled({
      now: () => new Date(clock),
    })
    clock += 60_000
    const created = await create({
      env: { GREETING: 'hi' },
      files: { 'TASK.md': 'the task' },
      labels: { team: 'a' },
      ttlSeconds: 600,
    })
    expect(created).toMatchObject({
      workerId: pooled.workerId,
      imageBuilt: false,
      createdAt: new Date(clock).toISOString(),
    })
    expect(statusEvents(created.workerId)).toEqual(['running:request'])
    expect(await service.status({ workerId: created.workerId })).toMatchObject({
      labels: { team: 'a' },
      ttlSeconds: 600,
    })
    expect(
      new TextDecoder().decode(runtime.files.get(`${pooled.containerId}:/workspace/TASK.md`)),
    ).toBe('the task')
    // The hand-out is written into the container: a restart knows it is a worker now.
    expect(keptState(pooled.containerId)).toMatchObject({
      handedOut: true,
      env: { GREETING: 'hi' },
      ttlSeconds: 600,
    })
    const out = await service.sendCommand({
      workerId: created.workerId,
      shell: 'echo',
      timeoutMs: 1000,
    })
    expect(out.exitCode).toBe(0)
    await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
    expect(service.records().filter((r) => r.pool)).toHaveLength(1)
    expect(runtime.containers.size).toBe(2)
    pools.close()
  })

  it('keep their containers out of sight: no worker, not listed, not reaped', async () => {
    const { service, pooled, pools } = await filled()
    expect((await service.list({ labels: {} })).workers).toEqual([])
    expect(await refusal(service.status({ workerId: pooled.workerId }))).toMatchObject({
      kind: 'not_found',
    })
    expect(await refusal(service.delete({ workerId: pooled.workerId }))).toMatchObject({
      kind: 'not_found',
    })
    pools.close()
  })

  it('serve only configs they fit, and never a sub-worker', async () => {
    const { service, create, pooled, pools } = await filled()
    expect((await create({ workdir: '/tmp' })).workerId).not.toBe(pooled.workerId)
    expect((await create({ env: { INSTALL_COMMANDS: 'true' } })).workerId).not.toBe(pooled.workerId)
    expect((await create({ resources: { memoryMb: 256, cpus: 1, pids: 256 } })).workerId).not.toBe(
      pooled.workerId,
    )
    const parent = await create({ allowedTools: ['spawn'], workdir: '/tmp' })
    const child = await service.create(
      { config: workerConfigSchema.parse({ agent: 'shell', workdir: '/tmp' }) },
      {},
      {
        parentId: parent.workerId,
      },
    )
    expect(child.workerId).not.toBe(pooled.workerId)
    expect(pools.sizes().shell).toBe(1)
    pools.close()
    // A closed pool hands out nothing.
    expect((await create()).workerId).not.toBe(pooled.workerId)
  })

  it('start the next container only once the hand-out is over', async () => {
    const { service, runtime, create, pooled, pools } = await filled()
    const prepare = service.prepare
    const refills: string[] = []
    service.prepare = (...args) => {
      refills.push('prepare')
      return prepare(...args)
    }
    const put = runtime.putFile.bind(runtime)
    let seenDuringHandOut: string[] | undefined
    runtime.putFile = async (id, path, content, opts) => {
      // The hand-out's last write: a refill started by `take` would have begun by now.
      if (path === STATE_FILE) seenDuringHandOut = [...refills]
      return put(id, path, content, opts)
    }
    expect((await create()).workerId).toBe(pooled.workerId)
    expect(seenDuringHandOut).toEqual([])
    await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
    expect(refills).toEqual(['prepare'])
    pools.close()
  })

  it('remove a container whose hand-out failed, and start no worker in its place', async () => {
    const { service, runtime, create, pooled, pools } = await filled()
    const put = runtime.putFile.bind(runtime)
    runtime.putFile = async (id, path, content, opts) => {
      if (path.endsWith('TASK.md')) throw new UnavailableError('engine gone')
      return put(id, path, content, opts)
    }
    expect(await refusal(create({ files: { 'TASK.md': 'x' } }))).toMatchObject({
      kind: 'unavailable',
    })
    expect(await runtime.inspect(pooled.containerId)).toBeUndefined()
    expect(service.records().filter((r) => !r.pool || r.workerId === pooled.workerId)).toEqual([])
    await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
    expect(runtime.containers.size).toBe(1)
    pools.close()
  })

  it('take back their containers after a restart, and remove those of pools no longer configured', async () => {
    const first = await filled()
    first.pools.close()
    const handedOut = await first.create()
    // A container of a pool the operator has since removed from WARM_POOLS.
    const spec = first.runtime.specs.get(first.pooled.containerId)!
    const strayId = 'w-00000000000000aa'
    const strayContainer = await first.runtime.run({
      ...spec,
      name: `workers-spawner-${strayId}`,
      labels: { ...spec.labels, [LABELS.workerId]: strayId, [LABELS.pool]: 'gone' },
    })
    const second = memoryService({ instance: 'a', runtime: first.runtime })
    const report = await recoverWorkers(second.service, { instance: 'a', logger: noopLogger })
    expect(report.recovered.sort()).toEqual(
      [first.pooled.workerId, handedOut.workerId, strayId].sort(),
    )
    expect((await second.service.list({ labels: {} })).workers.map((w) => w.workerId)).toEqual([
      handedOut.workerId,
    ])
    const pools = new WarmPools(second.service, SHELL)
    pools.start()
    expect(pools.sizes().shell).toBe(1)
    await vi.waitFor(async () =>
      expect(await first.runtime.inspect(strayContainer)).toBeUndefined(),
    )
    // Nothing new was started: the pool was full with what it took back.
    expect(first.runtime.containers.size).toBe(2)
    expect((await second.create()).workerId).toBe(first.pooled.workerId)
    pools.close()
  })

  it('read WARM_POOLS', () => {
    expect(parsePoolSpecs('shell=2, claude-code+node+git=1')).toEqual([
      { key: 'shell', agent: 'shell', capabilities: [], size: 2 },
      {
        key: poolKey('claude-code', ['git', 'node']),
        agent: 'claude-code',
        capabilities: ['node', 'git'],
        size: 1,
      },
    ])
    expect(() => parsePoolSpecs('shell')).toThrow(/agent\[\+capability…\]=N/)
  })
})
