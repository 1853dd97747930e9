import { describe, expect, it, vi } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { TokenSigner } from './auth/jwt.ts'
import { workerConfigSchema } from './config.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WarmPools } from './pool.ts'
import { WorkerService } from './service.ts'
import { WORKER_API_SOCKET_URL } from './worker-api.ts'

const registry = PluginRegistry.fromModules([
  {
    name: 'shell',
    module: {
      default: defineAgent({
        apiVersion: 'v1',
        name: 'shell',
        version: '1.0.0',
        description: 'test agent',
        prompt: (r) => ({ argv: ['bash', '-c', r.prompt] }),
        parse: (r) => ({ text: r.stdout, raw: null }),
      }),
    },
  },
])

const setup = () => {
  const runtime = new MemoryRuntime()
  runtime.images.set('base', 'sha256:base')
  const tokens = {
    signer: new TokenSigner('a test secret that is long enough!!'),
    url: 'http://spawner.test:8080',
  }
  const service = new WorkerService({
    runtime,
    tokens,
    plugins: () => registry,
    baseImage: 'base',
    hostEnv: {},
  })
  const specOf = async (workerId: string) =>
    runtime.specs.get((await service.get(workerId)).containerId)!
  return { runtime, service, specOf }
}

const config = (raw: object = {}) => workerConfigSchema.parse({ agent: 'shell', ...raw })

describe('a worker’s network', () => {
  it('is isolated by default and reaches the service through the socket', async () => {
    const { service, specOf } = setup()
    const { workerId } = await service.create({ config: config() })
    const spec = await specOf(workerId)
    expect(spec.network).toBe('isolated')
    expect(spec.env.ORCHESTRATOR_URL).toBe(WORKER_API_SOCKET_URL)
    // The runtime learns where the socket must lead (a host agent relays it there).
    expect(spec.workerApi).toBe('http://spawner.test:8080')
  })

  it('is the bridge, reaching the service over TCP, only when asked for', async () => {
    const { service, specOf } = setup()
    const { workerId } = await service.create({ config: config({ network: 'open' }) })
    const spec = await specOf(workerId)
    expect(spec.network).toBe('open')
    expect(spec.env.ORCHESTRATOR_URL).toBe('http://spawner.test:8080')
  })

  it('decides whether a warm pool container fits: pools are isolated', async () => {
    const { service, runtime } = setup()
    const pools = new WarmPools(service, [
      { key: 'shell', agent: 'shell', capabilities: [], size: 1 },
    ])
    pools.start()
    await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
    const pooled = service.records().find((r) => r.pool)!
    expect(runtime.specs.get(pooled.containerId)!.network).toBe('isolated')

    const open = await service.create({ config: config({ network: 'open' }) })
    expect(open.workerId).not.toBe(pooled.workerId)
    expect(pools.sizes().shell).toBe(1)
    const isolated = await service.create({ config: config() })
    expect(isolated.workerId).toBe(pooled.workerId)
    pools.close()
  })
})
