import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { workerConfigSchema } from './config.ts'
import { Lifecycle } from './lifecycle.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WorkerService } from './service.ts'
import { memoryService } from '../../test/support/memory-service.ts'
import { WarmPools } from './pool.ts'

const shell = defineAgent({
  apiVersion: 'v1',
  name: 'shell',
  version: '1.0.0',
  description: 'shell',
  prompt: (r) => ({ argv: ['/bin/sh', '-c', r.prompt] }),
  parse: (r) => ({ text: r.stdout, raw: null }),
})
const registry = PluginRegistry.fromModules([{ name: 'shell', module: { default: shell } }])

describe('Lifecycle', () => {
  it('waits for a running command past the TTL, but not longer than the grace', async () => {
    const start = Date.parse('2026-06-01T00:00:00Z')
    let clock = start
    const runtime = new MemoryRuntime()
    // A command that never ends (an agent that stopped the helpers the service relies on).
    runtime.onExec = () => new Promise(() => {})
    const service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'base',
      hostEnv: {},
      now: () => new Date(clock),
    })
    const lifecycle = new Lifecycle(service, { now: () => clock, ttlGraceMs: 60_000 })
    const { workerId } = await service.create({
      config: workerConfigSchema.parse({ agent: 'shell', ttlSeconds: 10 }),
    })
    const { containerId } = await service.get(workerId)
    void service.sendCommand({ workerId, shell: 'sleep infinity', timeoutMs: 600_000 })
    await expect.poll(async () => (await service.status({ workerId })).commandRunning).toBe(true)

    clock = start + 30_000 // past the TTL, within the grace: the command keeps it
    await lifecycle.tick()
    expect(await runtime.inspect(containerId)).toBeDefined()

    clock = start + 10_000 + 60_000 // TTL plus grace: deleted, command or not
    await lifecycle.tick()
    expect(await runtime.inspect(containerId)).toBeUndefined()
    expect(service.records()).toEqual([])
  })

  it('pauses a worker idle past idleSeconds and deletes one at its TTL, saying why', async () => {
    const start = Date.parse('2026-06-01T00:00:00Z')
    let clock = start
    const { service, create, statusEvents } = memoryService({ now: () => new Date(clock) })
    const lifecycle = new Lifecycle(service, { now: () => clock })
    const idle = await create({ idleSeconds: 30, ttlSeconds: 3600 })
    const never = await create({ idleSeconds: 0, ttlSeconds: 3600 })
    const short = await create({ idleSeconds: 0, ttlSeconds: 60 })
    clock = start + 29_000
    await lifecycle.tick()
    expect((await service.status({ workerId: idle.workerId })).state).toBe('running')
    clock = start + 30_000
    await lifecycle.tick()
    expect(statusEvents(idle.workerId).at(-1)).toBe('paused:idle')
    clock = start + 60_000
    await lifecycle.tick()
    expect(statusEvents(short.workerId).at(-1)).toBe('deleted:ttl')
    expect((await service.status({ workerId: never.workerId })).state).toBe('running')
    expect(
      service
        .records()
        .map((r) => r.workerId)
        .sort(),
    ).toEqual([idle.workerId, never.workerId].sort())
  })

  it('leaves warm pool containers alone: they have no deadlines until handed out', async () => {
    let clock = Date.parse('2026-06-01T00:00:00Z')
    const { service, runtime } = memoryService({ now: () => new Date(clock) })
    const pools = new WarmPools(service, [
      { key: 'shell', agent: 'shell', capabilities: [], size: 1 },
    ])
    pools.start()
    await expect.poll(() => pools.sizes().shell).toBe(1)
    pools.close()
    clock += 40 * 86_400_000
    await new Lifecycle(service, { now: () => clock }).tick()
    expect(runtime.containers.size).toBe(1)
    expect([...runtime.containers.values()][0]!.state).toBe('running')
  })
})
