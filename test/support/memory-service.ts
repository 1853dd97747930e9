import { workerConfigSchema, type WorkerConfigInput } from '../../src/core/config.ts'
import type { SpawnerEvent } from '../../src/core/events.ts'
import { defineAgent, type Plugin } from '../../src/core/plugin/contract.ts'
import { PluginRegistry } from '../../src/core/plugin/registry.ts'
import { WorkerService, type WorkerServiceOptions } from '../../src/core/service.ts'
import { STATE_FILE } from '../../src/core/worker-state.ts'
import { MemoryRuntime } from './memory-runtime.ts'

/** An agent that runs its prompt as a shell script and replies with its stdout. */
export const shellAgent = defineAgent({
  apiVersion: 'v1',
  name: 'shell',
  version: '1.0.0',
  description: 'shell',
  prompt: (r) => ({ argv: ['/bin/sh', '-c', r.prompt] }),
  parse: (r) => ({ text: r.stdout, raw: null }),
})

/** A registry holding `plugins` (default: the shell agent). */
export const registryOf = (...plugins: Plugin[]) =>
  PluginRegistry.fromModules(
    (plugins.length ? plugins : [shellAgent]).map((p) => ({
      name: p.name,
      module: { default: p },
    })),
  )

/** The key every memory service signs worker state with, so a second one knows the first's workers. */
export const TEST_SECRET = 'memory-service-key-0123456789abcdef'

/**
 * A WorkerService on the in-memory runtime, with the events it published and a `create` that
 * takes a raw config (agent `shell` unless given). Pass `runtime` to share containers between
 * services (a restart, another instance).
 */
export const memoryService = (
  opts: Partial<WorkerServiceOptions> & { runtime?: MemoryRuntime } = {},
) => {
  const runtime = opts.runtime ?? new MemoryRuntime()
  const registry = registryOf()
  const options: WorkerServiceOptions = {
    plugins: () => registry,
    baseImage: 'base',
    hostEnv: {},
    secret: TEST_SECRET,
    ...opts,
    runtime,
  }
  const service = new WorkerService(options)
  const events: SpawnerEvent[] = []
  service.events.subscribe((e) => events.push(e))
  const create = (config: Partial<WorkerConfigInput> = {}, hooks = {}) =>
    service.create({ config: workerConfigSchema.parse({ agent: 'shell', ...config }) }, hooks)
  const containerOf = async (workerId: string) => (await service.get(workerId)).containerId
  /** The state a worker keeps in its signed state file, or undefined when it has none. */
  const keptState = (containerId: string) => {
    const bytes = runtime.files.get(`${containerId}:${STATE_FILE}`)
    return bytes && JSON.parse(JSON.parse(new TextDecoder().decode(bytes)).state)
  }
  const statusEvents = (workerId: string) =>
    events.flatMap((e) =>
      e.type === 'status' && e.workerId === workerId ? [`${e.state}:${e.reason}`] : [],
    )
  return { runtime, options, service, events, create, containerOf, keptState, statusEvents }
}

/** The error a promise rejects with (fails the test when it resolves). */
export const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('not refused')
    },
    (err: { code: string; kind: string; message: string; details?: unknown }) => err,
  )
