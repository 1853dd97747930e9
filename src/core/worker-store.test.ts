import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { memoryService, registryOf, shellAgent } from '../../test/support/memory-service.ts'
import { workerConfigSchema } from './config.ts'
import { coreContext } from './context.ts'
import { LABELS } from './labels.ts'
import { defineCapability } from './plugin/contract.ts'
import { DEFAULT_POLICY, parseMountRules } from './policy.ts'
import type { WorkerRecord } from './worker-record.ts'
import { stateOf } from './worker-state.ts'
import { WorkerStore } from './worker-store.ts'

const tools = defineCapability({
  apiVersion: 'v1',
  name: 'tools',
  version: '1.0.0',
  description: 'a host mount',
  mounts: () => [{ source: '/srv/tools', target: '/opt/tools', readOnly: true }],
})

/** What a restart must know again of a worker: its persisted state and what its labels say. */
const known = (r: WorkerRecord) => ({
  state: stateOf(r),
  ids: [r.workerId, r.containerId, r.instance, r.parentId, r.rootId, r.depth],
  plugins: [r.agent, r.capabilities, r.image, r.workdir],
})

const setup = () => {
  const runtime = new MemoryRuntime()
  const registry = registryOf(shellAgent, tools)
  const policy = { ...DEFAULT_POLICY, mounts: parseMountRules(['/srv']) }
  const m = memoryService({ runtime, instance: 'a', policy, plugins: () => registry })
  /** A store of a restarted service: it knows nothing but what the containers hold. */
  const restarted = () => new WorkerStore(coreContext({ ...m.options, runtime }))
  const restore = async (workerId: string) => {
    const [info] = await runtime.list({ [LABELS.workerId]: workerId })
    return restarted().restore(info!)
  }
  return { ...m, restore }
}

describe('the store knows a worker again after a restart, as it was', () => {
  it('from the labels alone while nothing changed since the create', async () => {
    const { service, create, restore, runtime } = setup()
    const config = {
      capabilities: ['tools'],
      labels: { team: 'a' },
      allowedTools: ['spawn', 'status'],
      spawnablePlugins: ['tools'],
      resources: { memoryMb: 512, cpus: 0.5, pids: 64 },
      network: 'open' as const,
      ttlSeconds: 600,
      idleSeconds: 30,
      maxChildren: 2,
      maxDepth: 2,
    }
    const parent = await create(config)
    const child = await service.create(
      { config: workerConfigSchema.parse({ agent: 'shell', capabilities: ['tools'] }) },
      {},
      { parentId: parent.workerId },
    )
    for (const { workerId } of [parent, child]) {
      const created = await service.get(workerId)
      expect(runtime.containers.get(created.containerId)!.labels[LABELS.stateInLabels]).toBe('true')
      expect(known((await restore(workerId))!)).toEqual(known(created))
    }
  })

  it('from its signed state file once something changed', async () => {
    const { service, create, restore } = setup()
    const { workerId } = await create({ files: { 'TASK.md': 'x' }, capabilities: ['tools'] })
    await service.update({ workerId, ttlSeconds: 7200, idleSeconds: 5 })
    await service.sendCommand({ workerId, argv: ['true'], timeoutMs: 1000 })
    const record = await service.get(workerId)
    const restored = (await restore(workerId))!
    expect(known(restored)).toEqual({
      ...known(record),
      state: { ...stateOf(record), lastActiveAt: expect.any(String) },
    })
    expect(restored.persistedActiveAt).toBe(restored.lastActiveAt.getTime())
  })
})
