import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { workerConfigSchema, type WorkerConfigInput } from './config.ts'
import { defineAgent, defineCapability } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { DEFAULT_POLICY, parseMountRules, type WorkerPolicy } from './policy.ts'
import { WorkerService } from './service.ts'
import { UnavailableError } from './errors.ts'

const agent = (name: string, extra: object = {}) =>
  defineAgent({
    apiVersion: 'v1',
    name,
    version: '1.0.0',
    description: name,
    prompt: (r) => ({ argv: ['/bin/sh', '-c', r.prompt] }),
    parse: (r) => ({ text: r.stdout, raw: null }),
    ...extra,
  })
const capability = (name: string, extra: object = {}) =>
  defineCapability({ apiVersion: 'v1', name, version: '1.0.0', description: name, ...extra })

const registry = PluginRegistry.fromModules(
  [
    agent('shell'),
    agent('secretive', { secrets: [{ name: 'SECRETIVE_KEY' }] }),
    capability('git'),
    capability('tools', {
      mounts: () => [{ source: '/srv/tools', target: '/opt/tools', readOnly: true }],
    }),
  ].map((p) => ({ name: p.name, module: { default: p } })),
)

const setup = (policy: Partial<WorkerPolicy> = {}, now = () => new Date()) => {
  const runtime = new MemoryRuntime()
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'base:latest',
    hostEnv: { SECRETIVE_KEY: 'operator-secret-value' },
    policy: { ...DEFAULT_POLICY, mounts: parseMountRules(['/srv']), ...policy },
    now,
  })
  const create = (config: WorkerConfigInput) =>
    service.create({ config: workerConfigSchema.parse(config) })
  const spawn = (parentId: string, config: WorkerConfigInput) =>
    service.create({ config: workerConfigSchema.parse(config) }, { caller: parentId }, { parentId })
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('not refused')
      },
      (err: { code: string; kind: string; message: string; details?: unknown }) => err,
    )
  return { runtime, service, create, spawn, refusal }
}

const PARENT = {
  agent: 'shell',
  capabilities: ['git'],
  allowedTools: ['spawn', 'status'],
  resources: { memoryMb: 512, cpus: 0.5, pids: 128 },
  ttlSeconds: 3600,
  maxChildren: 3,
  maxDepth: 2,
}

describe('a sub-worker is never wider than its parent', () => {
  it('refuses plugins the parent lacks, unless its config lets it spawn them', async () => {
    const { create, spawn, refusal, runtime } = setup()
    const parent = await create(PARENT)
    for (const config of [
      { agent: 'secretive' },
      { agent: 'shell', capabilities: ['tools'] },
      { agent: 'shell', spawnablePlugins: ['secretive'] },
    ]) {
      const e = await refusal(spawn(parent.workerId, config))
      expect(e).toMatchObject({ code: 'not_wider_than_parent', kind: 'forbidden' })
    }
    // Nothing was started for the refused ones, so no secret reached a container.
    expect([...runtime.specs.values()].some((s) => 'SECRETIVE_KEY' in s.env)).toBe(false)

    const open = await create({ ...PARENT, spawnablePlugins: ['secretive'] })
    const child = await spawn(open.workerId, { agent: 'secretive', capabilities: ['git'] })
    expect(child.status).toBe('running')
  })

  it('refuses tools, start-time env and a workdir outside the parent', async () => {
    const { create, spawn, refusal } = setup()
    const parent = await create(PARENT)
    expect(
      await refusal(spawn(parent.workerId, { agent: 'shell', allowedTools: ['delete'] })),
    ).toMatchObject({ code: 'tool_not_allowed' })
    for (const env of [{ AGENT_COMMAND: 'id' }, { INSTALL_COMMANDS: 'id' }] as Record<
      string,
      string
    >[]) {
      const e = await refusal(spawn(parent.workerId, { agent: 'shell', env }))
      expect(e).toMatchObject({
        code: 'not_wider_than_parent',
        details: [{ path: `env.${Object.keys(env)[0]}` }],
      })
    }
    expect(
      await refusal(spawn(parent.workerId, { agent: 'shell', workdir: '/etc' })),
    ).toMatchObject({
      code: 'not_wider_than_parent',
      details: [{ path: 'workdir' }],
    })
    expect(
      (await spawn(parent.workerId, { agent: 'shell', workdir: '/workspace/sub' })).status,
    ).toBe('running')
  })

  it('stays isolated under an isolated parent', async () => {
    const { create, spawn, refusal } = setup()
    const isolated = await create(PARENT)
    expect(
      await refusal(spawn(isolated.workerId, { agent: 'shell', network: 'open' })),
    ).toMatchObject({
      code: 'not_wider_than_parent',
      details: [{ path: 'network' }],
    })
    const open = await create({ ...PARENT, network: 'open' })
    expect((await spawn(open.workerId, { agent: 'shell', network: 'open' })).status).toBe('running')
    expect((await spawn(open.workerId, { agent: 'shell' })).status).toBe('running')
  })

  it("caps resources at the parent's and the TTL at the parent's remaining lifetime", async () => {
    let now = new Date('2026-06-01T00:00:00.000Z')
    const { create, spawn, runtime, service } = setup({}, () => now)
    const parent = await create(PARENT)
    now = new Date(now.getTime() + 600_000)
    const child = await spawn(parent.workerId, {
      agent: 'shell',
      resources: { memoryMb: 262_144, cpus: 256, pids: 65_536 },
      ttlSeconds: 30 * 86_400,
    })
    const spec = [...runtime.specs.values()].find(
      (s) => s.labels['workers-spawner.worker-id'] === child.workerId,
    )!
    expect(spec.memoryBytes).toBe(512 * 1024 * 1024)
    expect(spec.nanoCpus).toBe(500_000_000)
    expect(spec.pidsLimit).toBe(128)
    expect(child.expiresAt).toBe(parent.expiresAt)
    expect((await service.status({ workerId: child.workerId })).ttlSeconds).toBe(3000)
  })

  it('gets no host mount its parent does not have', async () => {
    const { create, spawn, refusal } = setup()
    const parent = await create({ ...PARENT, spawnablePlugins: ['tools'] })
    const e = await refusal(spawn(parent.workerId, { agent: 'shell', capabilities: ['tools'] }))
    expect(e).toMatchObject({
      code: 'not_wider_than_parent',
      message: expect.stringContaining('/srv/tools'),
    })
    const mounted = await create({ ...PARENT, capabilities: ['git', 'tools'] })
    expect(
      (await spawn(mounted.workerId, { agent: 'shell', capabilities: ['tools'] })).status,
    ).toBe('running')
  })

  it('holds maxChildren under concurrent spawns', async () => {
    const { create, spawn, runtime } = setup()
    const parent = await create(PARENT)
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => spawn(parent.workerId, { agent: 'shell' })),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3)
    expect(
      results
        .filter((r) => r.status === 'rejected')
        .map((r) => (r as PromiseRejectedResult).reason.code),
    ).toEqual(Array(5).fill('quota_exceeded'))
    expect(await runtime.list({ 'workers-spawner.parent': parent.workerId })).toHaveLength(3)
  })

  it('holds MAX_TREE_WORKERS across levels and under concurrency', async () => {
    const { create, spawn } = setup({ maxTreeWorkers: 4 })
    const root = await create({ ...PARENT, maxChildren: 10 })
    const child = await spawn(root.workerId, {
      agent: 'shell',
      allowedTools: ['spawn'],
      maxChildren: 10,
    })
    const results = await Promise.allSettled([
      ...Array.from({ length: 3 }, () => spawn(root.workerId, { agent: 'shell' })),
      ...Array.from({ length: 3 }, () => spawn(child.workerId, { agent: 'shell' })),
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2)
    // Another tree is not affected.
    const other = await create(PARENT)
    expect((await spawn(other.workerId, { agent: 'shell' })).status).toBe('running')
  })

  it('holds MAX_WORKERS under concurrent creates', async () => {
    const { create } = setup({ maxWorkers: 3 })
    const results = await Promise.allSettled(
      Array.from({ length: 7 }, () => create({ agent: 'shell' })),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3)
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
    expect(reasons.every((e) => e.code === 'worker_limit' && e.kind === 'too_many')).toBe(true)
  })
})

describe('update never lengthens a lifetime past its limits', () => {
  it('caps at MAX_TTL_SECONDS, refuses a worker lengthening itself, and keeps a child within its parent', async () => {
    const { create, spawn, service, refusal } = setup({ maxTtlSeconds: 7200 })
    const parent = await create({ ...PARENT, allowedTools: ['spawn', 'update'] })
    expect(
      await refusal(service.update({ workerId: parent.workerId, ttlSeconds: 7201 })),
    ).toMatchObject({ kind: 'bad_request' })
    expect(
      await refusal(
        service.update(
          { workerId: parent.workerId, ttlSeconds: 7000 },
          { caller: parent.workerId },
        ),
      ),
    ).toMatchObject({
      code: 'ttl_not_allowed',
    })
    expect(
      (
        await service.update(
          { workerId: parent.workerId, ttlSeconds: 60 },
          { caller: parent.workerId },
        )
      ).ttlSeconds,
    ).toBe(60)
    const child = await spawn(parent.workerId, { agent: 'shell' })
    const extended = await service.update(
      { workerId: child.workerId, ttlSeconds: 7200 },
      { caller: parent.workerId },
    )
    expect(new Date(extended.expiresAt).getTime()).toBeLessThanOrEqual(
      new Date(parent.createdAt).getTime() + 60_000,
    )
    expect(await refusal(create({ agent: 'shell', ttlSeconds: 7201 }))).toMatchObject({
      kind: 'bad_request',
      details: [{ path: 'ttlSeconds' }],
    })
  })
})

describe('the worker tree', () => {
  it('knows who is within whom, also from container labels after a restart', async () => {
    const { create, spawn, service, runtime } = setup()
    const root = await create(PARENT)
    const child = await spawn(root.workerId, {
      agent: 'shell',
      allowedTools: ['spawn'],
      maxDepth: 1,
    })
    const grandchild = await spawn(child.workerId, { agent: 'shell' })
    const stranger = await create(PARENT)
    expect(await service.isWithin(grandchild.workerId, root.workerId)).toBe(true)
    expect(await service.isWithin(root.workerId, root.workerId)).toBe(true)
    expect(await service.isWithin(root.workerId, child.workerId)).toBe(false)
    expect(await service.isWithin(stranger.workerId, root.workerId)).toBe(false)
    expect(await service.childrenOf(root.workerId)).toEqual([child.workerId])

    // A service that has not seen them yet counts them from their labels.
    const again = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'base:latest',
      hostEnv: {},
    })
    expect(await again.childrenOf(root.workerId)).toEqual([child.workerId])
    expect(await again.isWithin(grandchild.workerId, root.workerId)).toBe(true)
  })

  it('counts children a restarted service has not looked at yet against maxChildren', async () => {
    const { create, spawn, runtime } = setup()
    const parent = await create({ ...PARENT, maxChildren: 1 })
    await spawn(parent.workerId, { agent: 'shell' })
    const again = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'base:latest',
      hostEnv: {},
      policy: DEFAULT_POLICY,
    })
    expect(again.records()).toEqual([])
    const e = await again
      .create(
        { config: workerConfigSchema.parse({ agent: 'shell' }) },
        {},
        { parentId: parent.workerId },
      )
      .catch((err: { code: string }) => err)
    expect(e).toMatchObject({ code: 'quota_exceeded' })
  })

  it('frees the place of a sub-worker whose create failed', async () => {
    const { create, spawn, runtime, refusal } = setup()
    const parent = await create({ ...PARENT, maxChildren: 1 })
    const run = runtime.run.bind(runtime)
    runtime.run = async () => {
      throw new UnavailableError('engine gone')
    }
    expect(await refusal(spawn(parent.workerId, { agent: 'shell' }))).toMatchObject({
      kind: 'unavailable',
    })
    runtime.run = run
    expect((await spawn(parent.workerId, { agent: 'shell' })).status).toBe('running')
    expect(await refusal(spawn(parent.workerId, { agent: 'shell' }))).toMatchObject({
      code: 'quota_exceeded',
    })
  })
})
