import { describe, expect, it } from 'vitest'
import { NotFoundError, UnavailableError } from '../core/errors.ts'
import type { ContainerSpec } from '../core/runtime.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { fakeAgent } from '../../test/support/host-agent.ts'
import type { CapacityReport } from '../host-agent/deps.ts'
import { HOST_LABEL, MultiRuntime } from './multi-runtime.ts'

const GiB = 2 ** 30

const spec = (name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name,
  image: 'img',
  env: {},
  labels: { 'workers-spawner.managed': 'true' },
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: GiB,
  nanoCpus: 1e9,
  pidsLimit: 100,
  securityOpt: [],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
  ...extra,
})

/** A host of `memoryGiB` and `cpus` whose reservations are the limits of its running specs. */
const host = (name: string, memoryGiB: number, cpus: number) => {
  const runtime = new MemoryRuntime()
  runtime.images.set('img', 'sha256:img')
  const capacity = async (): Promise<CapacityReport> => {
    const live = [...runtime.containers.values()].filter((c) => c.state !== 'exited')
    const specs = live.map((c) => runtime.specs.get(c.id)!)
    return {
      cpus,
      memoryBytes: memoryGiB * GiB,
      containers: { running: live.length, paused: 0, total: live.length },
      workers: live.length,
      reserved: {
        memoryBytes: specs.reduce((n, s) => n + s.memoryBytes, 0),
        nanoCpus: specs.reduce((n, s) => n + s.nanoCpus, 0),
      },
      runtimes: runtime.runtimeNames,
    }
  }
  return Object.assign(fakeAgent(name, runtime, { capacity }), { runtime })
}

describe('MultiRuntime placement', () => {
  it('places each container on the host with the most room, labelled with the host', async () => {
    const a = host('a', 4, 4)
    const b = host('b', 8, 8)
    const multi = new MultiRuntime([a.remote, b.remote])
    const placed: string[] = []
    for (let i = 0; i < 6; i++) {
      const id = await multi.run(spec(`ws-${i}`))
      placed.push((await multi.inspect(id))!.labels[HOST_LABEL]!)
    }
    // b has room for 4 more, then both for 2 (tie: fewer workers, then the name), …
    expect(placed).toEqual(['b', 'b', 'b', 'b', 'a', 'b'])
    expect(a.runtime.containers.size).toBe(1)
    expect(b.runtime.containers.size).toBe(5)
  })

  it("prefers a host that has the image, and only hosts with the spec's OCI runtime", async () => {
    const a = host('a', 64, 64)
    const b = host('b', 4, 4)
    a.runtime.images.clear()
    const multi = new MultiRuntime([a.remote, b.remote])
    expect(await multi.inspect(await multi.run(spec('ws-img')))).toMatchObject({
      labels: { [HOST_LABEL]: 'b' },
    })
    b.runtime.runtimeNames = ['runc', 'sysbox-runc']
    const id = await multi.run(spec('ws-sysbox', { runtime: 'sysbox-runc', image: 'other' }))
    expect(b.runtime.containers.has(id)).toBe(true)
    await expect(multi.run(spec('ws-none', { runtime: 'kata' }))).rejects.toMatchObject({
      kind: 'bad_request',
      code: 'runtime_unavailable',
    })
    expect(await multi.runtimes()).toEqual(['runc', 'sysbox-runc'])
  })

  it('skips an unreachable host, and is a 503 when none answers', async () => {
    const a = host('a', 64, 64)
    const b = host('b', 4, 4)
    const multi = new MultiRuntime([a.remote, b.remote])
    a.down = true
    const id = await multi.run(spec('ws-1'))
    expect(b.runtime.containers.has(id)).toBe(true)
    b.down = true
    const err = await multi.run(spec('ws-2')).catch((e) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err.message).toMatch(/no host agent answers.*a: .*b: /)
  })
})

describe('MultiRuntime routing', () => {
  it('sends every call on a container to its host, also after a core restart', async () => {
    const a = host('a', 4, 4)
    const b = host('b', 8, 8)
    const first = new MultiRuntime([a.remote, b.remote])
    const id = await first.run(spec('ws-1'))
    expect(b.runtime.containers.has(id)).toBe(true)

    const restarted = new MultiRuntime([a.remote, b.remote])
    a.calls.length = 0
    b.calls.length = 0
    expect((await restarted.exec(id, { argv: ['echo', 'hi'] })).stdout).toBe('echo hi\n')
    await restarted.putFile(id, '/workspace/f', new Uint8Array([1, 2]))
    expect(await restarted.getFile(id, '/workspace/f')).toEqual(new Uint8Array([1, 2]))
    await restarted.pause(id)
    expect((await restarted.inspect(id))?.state).toBe('paused')
    await restarted.unpause(id)
    expect((await restarted.logs(id)).lines).toHaveLength(1)
    // One lookup on each host, then only b.
    expect(a.calls).toEqual([`GET /v1/containers/${id}`])
    expect(b.calls.filter((c) => c === `GET /v1/containers/${id}`)).toHaveLength(2)
    expect(b.calls).toContain(`POST /v1/containers/${id}/exec`)

    await restarted.remove(id)
    expect(b.runtime.containers.has(id)).toBe(false)
    expect(await restarted.inspect(id)).toBeUndefined()
    await restarted.remove(id)
    await expect(restarted.exec(id, { argv: ['true'] })).rejects.toThrow(NotFoundError)
  })

  it('is a 503 for a container it cannot find while its host may be the one away', async () => {
    const a = host('a', 4, 4)
    const b = host('b', 8, 8)
    const id = await new MultiRuntime([a.remote, b.remote]).run(spec('ws-1'))
    const restarted = new MultiRuntime([a.remote, b.remote])
    b.down = true
    const err = await restarted.exec(id, { argv: ['true'] }).catch((e) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err.message).toMatch(/unreachable: b/)
    b.down = false
    expect((await restarted.exec(id, { argv: ['true'] })).exitCode).toBe(0)
  })

  it('lists the containers of every host, leaving out one that is away', async () => {
    const a = host('a', 4, 4)
    const b = host('b', 4, 4)
    const multi = new MultiRuntime([a.remote, b.remote])
    const ids = [await multi.run(spec('ws-1')), await multi.run(spec('ws-2'))]
    expect(a.runtime.containers.size).toBe(1)
    const all = await multi.list({ 'workers-spawner.managed': 'true' })
    expect(all.map((c) => c.id).sort()).toEqual([...ids].sort())
    a.down = true
    expect(await multi.list({})).toHaveLength(1)
    b.down = true
    await expect(multi.list({})).rejects.toThrow(UnavailableError)
  })
})

describe('MultiRuntime images', () => {
  it('has an image only when every host has it, and builds it where it is missing', async () => {
    const a = host('a', 4, 4)
    const b = host('b', 4, 4)
    const multi = new MultiRuntime([a.remote, b.remote])
    a.runtime.images.set('derived:1', 'sha256:d1')
    expect(await multi.hasImage('derived:1')).toBe(false)
    const progress: string[] = []
    await multi.buildImage('derived:1', 'FROM img', { onProgress: (l) => progress.push(l) })
    expect(a.runtime.builds).toEqual([])
    expect(b.runtime.builds).toEqual(['derived:1'])
    expect(progress).toEqual(['[b] building derived:1'])
    expect(await multi.hasImage('derived:1')).toBe(true)
  })

  it("derives the image id from every host's copy", async () => {
    const a = host('a', 4, 4)
    const b = host('b', 4, 4)
    const multi = new MultiRuntime([a.remote, b.remote])
    expect(await multi.imageId('img')).toBe('sha256:img')
    b.runtime.images.set('img', 'sha256:other')
    expect(await multi.imageId('img')).toBe('sha256:img,sha256:other')
    expect(await multi.imageId('nothing')).toBeUndefined()
  })

  it('refuses two agents with one name', () => {
    const a = host('a', 4, 4)
    expect(() => new MultiRuntime([a.remote, a.remote])).toThrow(/named 'a'/)
  })
})
