import { describe, expect, it, vi } from 'vitest'
import { gatewayService } from '../../test/support/gateway-service.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { refusal } from '../../test/support/memory-service.ts'
import { TokenSigner } from './auth/jwt.ts'
import { workerConfigSchema, type Network, type WorkerConfigInput } from './config.ts'
import { defineAgent } from './plugin/contract.ts'
import { DEFAULT_NETWORK_POLICY, type NetworkPolicy } from './network.ts'
import { EGRESS_DENIED_PER_MINUTE } from './model-access.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { DEFAULT_POLICY } from './policy.ts'
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

/** Networks as a WorkerConfig asks for them. */
const asked = (...networks: NonNullable<WorkerConfigInput['network']>[]) => networks

describe('network settings', () => {
  const policy = (network: Partial<NetworkPolicy> = {}) => ({
    ...DEFAULT_POLICY,
    network: { ...DEFAULT_NETWORK_POLICY, ...network },
  })
  const proxied = (credential: string) => `http://worker:${credential}@127.0.0.1:3128`

  it('default to the operator’s allow list, through the proxy with the worker’s credential', async () => {
    const { service, create, specOf, credentialOf } = gatewayService()
    const { workerId } = await create()
    const spec = await specOf(workerId)
    const credential = await credentialOf(workerId)
    expect(spec.network).toBe('isolated')
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'])
      expect(spec.env[name]).toBe(proxied(credential))
    expect(spec.env.NO_PROXY).toBe('localhost,127.0.0.1,::1')
    expect((await service.status({ workerId })).network).toEqual({ allow: [] })
    expect(await service.models.egressOf(credential)).toEqual({ workerId, allow: [] })
    // Its last hex digit changed (to one it is not: a tag may end in 0).
    const forged = `${credential.slice(0, -1)}${credential.endsWith('0') ? '1' : '0'}`
    expect(await service.models.egressOf(forged)).toBeUndefined()
  })

  it("'none' has no proxy, 'all' the bridge and no proxy; the old names still mean them", async () => {
    const { service, create, specOf } = gatewayService()
    for (const [asked, network, status] of [
      ['none', 'isolated', 'none'],
      ['isolated', 'isolated', 'none'],
      ['all', 'open', 'all'],
      ['open', 'open', 'all'],
    ] as const) {
      const { workerId } = await create({ network: asked })
      const spec = await specOf(workerId)
      expect([spec.network, spec.env.HTTP_PROXY]).toEqual([network, undefined])
      expect((await service.status({ workerId })).network).toBe(status)
    }
  })

  it("refuses 'all' where NETWORK_ALL is off, and hosts EGRESS_PERMIT does not cover", async () => {
    const { service, create, runtime, credentialOf } = gatewayService({
      policy: policy({ allowAll: false, permit: ['*.example.com'] }),
    })
    for (const network of asked('all', 'open', { allow: ['example.org'] })) {
      expect(await refusal(create({ network }))).toMatchObject({ code: 'network_not_allowed' })
    }
    expect(runtime.containers.size).toBe(0)
    const { workerId } = await create({ network: { allow: ['api.example.com:443'] } })
    expect(await service.models.egressOf(await credentialOf(workerId))).toEqual({
      workerId,
      allow: ['api.example.com:443'],
    })
  })

  it('counts what the proxy let through and refused; a refusal is an event', async () => {
    const { service, create, events } = gatewayService()
    const { workerId } = await create()
    service.models.egress({ workerId, host: 'a.example', port: 443 })
    service.models.egress({ workerId, host: 'b.example', port: 80, reason: 'not allowed' })
    expect((await service.status({ workerId })).connections).toEqual({ allowed: 1, denied: 1 })
    expect(events.filter((e) => e.type === 'egress_denied')).toMatchObject([
      { workerId, host: 'b.example', port: 80, reason: 'not allowed' },
    ])
  })

  it('counts every refusal but reports a worker that keeps knocking only so often', async () => {
    let clock = Date.parse('2026-06-01T00:00:00Z')
    const { service, create, events } = gatewayService({ now: () => new Date(clock) })
    const { workerId } = await create()
    const other = (await create()).workerId
    const knock = (id: string) =>
      service.models.egress({ workerId: id, host: 'x.example', port: 443, reason: 'not allowed' })
    const reported = () => events.filter((e) => e.type === 'egress_denied').length
    for (let i = 0; i < EGRESS_DENIED_PER_MINUTE + 50; i++) knock(workerId)
    expect(reported()).toBe(EGRESS_DENIED_PER_MINUTE)
    expect((await service.status({ workerId })).connections.denied).toBe(
      EGRESS_DENIED_PER_MINUTE + 50,
    )
    // Another worker has its own allowance, and a new minute a new one.
    knock(other)
    expect(reported()).toBe(EGRESS_DENIED_PER_MINUTE + 1)
    clock += 60_000
    knock(workerId)
    expect(reported()).toBe(EGRESS_DENIED_PER_MINUTE + 2)
  })
})

describe('a sub-worker’s network', () => {
  const family = async (parentNetwork: Network) => {
    const svc = gatewayService()
    const parent = await svc.create({ network: parentNetwork })
    const spawn = (network?: WorkerConfigInput['network']) =>
      svc.service.create(
        { config: config(network === undefined ? {} : { network }) },
        { caller: parent.workerId },
        { parentId: parent.workerId },
      )
    return { ...svc, spawn }
  }

  it('is its parent’s when unset, not the operator’s default', async () => {
    const allow = await family({ allow: ['*.example.com'] })
    const child = await allow.spawn()
    expect((await allow.service.status(child)).network).toEqual({ allow: ['*.example.com'] })
    const spec = await allow.specOf(child.workerId)
    expect(spec.env.HTTP_PROXY).toContain(await allow.credentialOf(child.workerId))
    const none = await family('none')
    expect((await none.service.status(await none.spawn())).network).toBe('none')
  })

  it('is never wider than its parent’s', async () => {
    const allow = await family({ allow: ['*.example.com'] })
    for (const network of asked('all', { allow: ['example.org'] }, { allow: ['example.com'] }))
      expect(await refusal(allow.spawn(network))).toMatchObject({
        code: 'not_wider_than_parent',
        details: [{ path: 'network' }],
      })
    expect(
      (await allow.service.status(await allow.spawn({ allow: ['a.example.com'] }))).network,
    ).toEqual({ allow: ['a.example.com'] })
    const none = await family('none')
    for (const network of asked('all', 'open', { allow: ['a.example.com'] }))
      expect(await refusal(none.spawn(network))).toMatchObject({ code: 'not_wider_than_parent' })
    expect((await none.service.status(await none.spawn({ allow: [] }))).network).toEqual({
      allow: [],
    })
    const all = await family('all')
    expect((await all.service.status(await all.spawn())).network).toBe('all')
  })
})
