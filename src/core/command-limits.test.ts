import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { workerConfigSchema } from './config.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { DEFAULT_POLICY } from './policy.ts'
import { WorkerService } from './service.ts'

const shell = defineAgent({
  apiVersion: 'v1',
  name: 'shell',
  version: '1.0.0',
  description: 'shell',
  prompt: (r) => ({ argv: ['/bin/sh', '-c', r.prompt] }),
  parse: (r) => ({ text: r.stdout, raw: null }),
})
const registry = PluginRegistry.fromModules([{ name: 'shell', module: { default: shell } }])

describe('commands running at once', () => {
  it('are bounded per worker and per instance (each may hold its output in memory)', async () => {
    const runtime = new MemoryRuntime()
    const release: (() => void)[] = []
    runtime.onExec = () =>
      new Promise((resolve) =>
        release.push(() =>
          resolve({ exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }),
        ),
      )
    const service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'base',
      hostEnv: {},
      policy: { ...DEFAULT_POLICY, maxWorkerCommands: 2, maxCommands: 3 },
    })
    const make = async () =>
      (await service.create({ config: workerConfigSchema.parse({ agent: 'shell' }) })).workerId
    const [a, b] = [await make(), await make()]
    const run = (workerId: string) =>
      service.sendCommand({ workerId, shell: 'true', timeoutMs: 60_000 })
    const refused = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { code: string; kind: string }) => e,
      )

    const running = [run(a), run(a)]
    expect(await refused(run(a))).toMatchObject({ code: 'too_many_commands', kind: 'too_many' })
    expect(
      await refused(service.readFile({ workerId: a, path: '/workspace/x', encoding: 'utf8' })),
    ).toMatchObject({ kind: 'too_many' })
    running.push(run(b))
    expect(await refused(run(b))).toMatchObject({ code: 'too_many_commands', kind: 'too_many' })
    for (const r of release.splice(0)) r()
    await Promise.all(running)
    // Freed again once they end.
    const again = run(a)
    await expect.poll(() => release.length).toBe(1)
    release[0]!()
    expect((await again).exitCode).toBe(0)
  })
})
