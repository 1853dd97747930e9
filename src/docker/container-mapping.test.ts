import { describe, expect, it } from 'vitest'
import type { ContainerSpec } from '../core/runtime.ts'
import { toCreateOptions } from './container-mapping.ts'

const spec = (extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name: 'workers-spawner-w-1',
  image: 'img',
  env: {},
  labels: {},
  user: '1000:1000',
  workdir: '/workspace',
  mounts: [{ source: '/host/claude', target: '/home/worker/.claude', readOnly: true }],
  memoryBytes: 1,
  nanoCpus: 1,
  pidsLimit: 16,
  securityOpt: [],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: ['host.docker.internal:host-gateway'],
  ...extra,
})

describe('toCreateOptions: network', () => {
  it.each([['isolated' as const], [undefined]])(
    'network %s: no network but loopback, no host names, the worker API socket read-only',
    (network) => {
      const host = toCreateOptions(spec(network ? { network } : {}), {
        apiDir: '/run/ws/api',
      }).HostConfig!
      expect(host.NetworkMode).toBe('none')
      expect(host.ExtraHosts).toBeUndefined()
      expect(host.Mounts).toEqual([
        { Type: 'bind', Source: '/host/claude', Target: '/home/worker/.claude', ReadOnly: true },
        { Type: 'bind', Source: '/run/ws/api', Target: '/run/workers-spawner/api', ReadOnly: true },
      ])
    },
  )

  it('isolated without a socket: no network and no extra mount', () => {
    const host = toCreateOptions(spec({ network: 'isolated' })).HostConfig!
    expect(host.NetworkMode).toBe('none')
    expect(host.Mounts).toHaveLength(1)
  })

  it('open: the default bridge with its host names, and no socket', () => {
    const host = toCreateOptions(spec({ network: 'open' }), { apiDir: '/run/ws/api' }).HostConfig!
    expect(host.NetworkMode).toBeUndefined()
    expect(host.ExtraHosts).toEqual(['host.docker.internal:host-gateway'])
    expect(host.Mounts).toHaveLength(1)
  })
})
