import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WorkerService } from './service.ts'

const registry = PluginRegistry.fromModules([
  {
    name: 'shell',
    module: {
      default: defineAgent({
        apiVersion: 'v1',
        name: 'shell',
        version: '1.0.0',
        description: 'd',
        prompt: (r) => ({ argv: ['bash', '-c', r.prompt] }),
        parse: (r) => ({ text: r.stdout, raw: null }),
      }),
    },
  },
])

const setup = () => {
  const runtime = new MemoryRuntime()
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'img',
    hostEnv: {},
  })
  const create = (config: Record<string, unknown>) =>
    service.create({ config: service.parseConfig({ agent: 'shell', ...config }) })
  return { runtime, create }
}

// Each of these made the Docker Engine fail the container's start (a 502 `docker_error`).
describe('configs no container can start with', () => {
  it.each([
    [
      'a workdir name over 255 bytes',
      { workdir: `/w/${'p'.repeat(256)}` },
      /workdir: a name in it is longer than 255 bytes/,
    ],
    [
      'a workdir deeper than 128 levels',
      { workdir: `/x/${'a/'.repeat(130)}b` },
      /workdir: deeper than 128 levels/,
    ],
    ['a NUL in an env value', { env: { A: 'x\0y' } }, /env\.A: must not contain NUL/],
    [
      'a lone surrogate in the workdir',
      { workdir: '/workspace/\ud800' },
      /workdir: not well-formed Unicode/,
    ],
    [
      'a lone surrogate in an env value',
      { env: { A: '\udc00' } },
      /env\.A: not well-formed Unicode/,
    ],
    [
      'an env entry over 128 KiB',
      { env: { A: 'x'.repeat(128 * 1024) } },
      /env\.A: longer than 131071 bytes/,
    ],
    [
      'env over 1 MiB in all',
      { env: Object.fromEntries([...'ABCDEFGHI'].map((k) => [k, 'x'.repeat(120_000)])) },
      /env: more than 1048576 bytes/,
    ],
  ])('refuses %s with 400, before anything runs', async (_name, config, message) => {
    const { runtime, create } = setup()
    await expect(create(config)).rejects.toMatchObject({
      kind: 'bad_request',
      code: 'bad_request',
      message: expect.stringMatching(message),
    })
    expect(runtime.containers.size).toBe(0)
  })

  it('still takes a deep workdir and large env within the limits', async () => {
    const { create } = setup()
    await expect(create({ workdir: `/x/${'a/'.repeat(120)}b` })).resolves.toMatchObject({
      status: 'running',
    })
    const env = Object.fromEntries([...'ABCDEFGH'].map((k) => [k, 'x'.repeat(120_000)]))
    await expect(create({ env })).resolves.toMatchObject({ status: 'running' })
  })
})
