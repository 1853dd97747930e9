import { describe, expect, it } from 'vitest'
import shell from '../../plugins/shell/index.ts'
import { askingAgent } from '../../test/support/asking-agent.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { catalog, type Command } from '../core/catalog.ts'
import { PluginRegistry } from '../core/plugin/registry.ts'
import type { ContainerRuntime } from '../core/runtime.ts'
import { WorkerService } from '../core/service.ts'
import { parseInput } from '../core/validation.ts'

/**
 * Runtime calls that change something. Image builds are left out: a build is keyed by its
 * content, so building again changes nothing.
 */
const CHANGES = new Set([
  'run',
  'exec',
  'putFile',
  'pause',
  'unpause',
  'remove',
  'commit',
  'removeImage',
])

/** The checkpoint the last `prepare` took, for the commands that name one. */
let taken = ''
const takeCheckpoint = async (s: WorkerService, workerId: string) => {
  taken = (await s.checkpoint({ workerId })).checkpointId
}

/** An input for every command, and what the worker needs first. */
interface Sample {
  input: (workerId: string) => unknown
  prepare?: (s: WorkerService, workerId: string) => Promise<unknown>
  /** The worker's config, when not a plain shell worker. */
  config?: Record<string, unknown>
  /** The command is the worker's own call. */
  byWorker?: boolean
  /** Runtime calls that only read for this command (a listing is an exec that changes nothing). */
  reads?: string[]
}

const ASKS = { agent: 'asker', permissions: 'ask' }
const ASK_INPUT = { requestId: 'toolu_1', tool: 'Bash', input: { command: 'ls' }, waitMs: 0 }

const samples: Record<string, Sample> = {
  create: { input: () => ({ config: { agent: 'shell', files: { 'TASK.md': '# task' } } }) },
  list: { input: () => ({}) },
  status: { input: (workerId) => ({ workerId }) },
  send_command: { input: (workerId) => ({ workerId, prompt: 'echo hi' }) },
  send_file: {
    input: (workerId) => ({ workerId, path: '/workspace/a.txt', content: 'a', encoding: 'utf8' }),
  },
  read_file: {
    input: (workerId) => ({ workerId, path: '/workspace/a.txt' }),
    prepare: (s, workerId) =>
      s.sendFile({ workerId, path: '/workspace/a.txt', content: 'a', encoding: 'utf8' }),
  },
  list_files: { input: (workerId) => ({ workerId, path: '/workspace' }), reads: ['exec'] },
  logs: { input: (workerId) => ({ workerId, tail: 10 }) },
  watch: { input: (workerId) => ({ workerId, durationMs: 1 }) },
  pause: { input: (workerId) => ({ workerId }) },
  resume: { input: (workerId) => ({ workerId }), prepare: (s, workerId) => s.pause({ workerId }) },
  update: { input: (workerId) => ({ workerId, ttlSeconds: 7200 }) },
  delete: { input: (workerId) => ({ workerId }) },
  transcript: { input: (workerId) => ({ workerId }) },
  respond: { input: (workerId) => ({ workerId, text: 'done' }) },
  checkpoint: { input: (workerId) => ({ workerId }) },
  list_checkpoints: { input: (workerId) => ({ workerId }), prepare: takeCheckpoint },
  delete_checkpoint: {
    input: (workerId) => ({ workerId, checkpointId: taken }),
    prepare: takeCheckpoint,
  },
  restore: { input: (workerId) => ({ workerId, checkpointId: taken }), prepare: takeCheckpoint },
  fork: { input: (workerId) => ({ workerId, count: 2 }) },
  plugins: { input: () => ({}) },
  build_image: { input: () => ({ agent: 'shell', capabilities: [] }) },
  pools: { input: () => ({}) },
  request_permission: {
    config: ASKS,
    byWorker: true,
    input: (workerId) => ({ workerId, ...ASK_INPUT }),
  },
  answer_permission: {
    config: ASKS,
    input: (workerId) => ({ workerId, requestId: 'toolu_1', decision: 'allow', always: true }),
    prepare: (s, workerId) => s.requestPermission({ workerId, ...ASK_INPUT }, { caller: workerId }),
  },
  permissions: { config: ASKS, input: (workerId) => ({ workerId }) },
}

// The Redis consumer retries a command that failed for a passing reason only if `onEffect`
// was not called: so no command may change anything before calling it.
describe('onEffect', () => {
  it('every catalog command has a sample here', () => {
    expect(Object.keys(samples).sort()).toEqual(catalog.map((c) => c.name).sort())
  })

  for (const command of catalog as readonly Command[]) {
    it(`${command.name}: is called before the command changes anything`, async () => {
      const memory = new MemoryRuntime()
      const log: string[] = []
      const sample = samples[command.name]!
      const runtime = new Proxy(memory, {
        get: (target, key: keyof ContainerRuntime) => {
          const value = target[key]
          if (typeof value !== 'function') return value
          return (...args: unknown[]) => {
            if (CHANGES.has(key) && !sample.reads?.includes(key)) log.push(key)
            return (value as (...a: unknown[]) => unknown).apply(target, args)
          }
        },
      })
      const registry = PluginRegistry.fromModules([
        { name: 'shell', module: { default: shell } },
        { name: 'asker', module: { default: askingAgent } },
      ])
      const service = new WorkerService({
        runtime,
        plugins: () => registry,
        baseImage: 'img',
        hostEnv: {},
      })
      const config = service.parseConfig(sample.config ?? { agent: 'shell' })
      const { workerId } = await service.create({ config })
      await sample.prepare?.(service, workerId)
      log.length = 0

      const input = parseInput(command.input, sample.input(workerId), command.name)
      await (command as Command).run(service, input, {
        onEffect: () => void log.push('onEffect'),
        ...(sample.byWorker ? { caller: workerId } : {}),
      })
      const first = log.findIndex((call) => call !== 'onEffect')
      const changedFirst = first >= 0 && !log.slice(0, first).includes('onEffect')
      expect({ calls: log, changedFirst }).toMatchObject({ changedFirst: false })
    })
  }
})
