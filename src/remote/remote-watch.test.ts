import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { fakeAgent } from '../../test/support/host-agent.ts'
import type { FileChange } from '../core/runtime.ts'
import type { ContainerSpec } from '../core/runtime.ts'

const spec: ContainerSpec = {
  name: 'ws-a',
  image: 'img',
  env: {},
  labels: {},
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 512 * 2 ** 20,
  nanoCpus: 1e9,
  pidsLimit: 100,
  securityOpt: [],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
}

const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((r) => setTimeout(r, 1))
}

describe('watch through a host agent', () => {
  it('streams changes as NDJSON and ends the watch there when the caller stops', async () => {
    const memory = new MemoryRuntime()
    const id = await memory.run(spec)
    const { remote, calls } = fakeAgent('docker-1', memory)
    const abort = new AbortController()
    const seen: FileChange[] = []
    const watching = remote.watch(id, {
      path: '/workspace',
      recursive: false,
      roots: ['/workspace', '/tmp'],
      signal: abort.signal,
      onChange: (c) => seen.push(c),
    })
    await until(() => (memory.watchers.get(id)?.size ?? 0) === 1)
    const [req] = memory.watchers.get(id)!
    expect(req).toMatchObject({
      path: '/workspace',
      recursive: false,
      roots: ['/workspace', '/tmp'],
    })
    memory.change(id, { type: 'created', path: '/workspace/a', dir: false })
    memory.change(id, { type: 'overflow' })
    await until(() => seen.length === 2)
    expect(seen).toEqual([
      { type: 'created', path: '/workspace/a', dir: false },
      { type: 'overflow' },
    ])
    abort.abort()
    await watching
    await until(() => (memory.watchers.get(id)?.size ?? 0) === 0)
    expect(calls).toContain(`POST /v1/containers/${id}/watch`)
  })

  it('resolves when the container goes, and carries refusals back as the same errors', async () => {
    const memory = new MemoryRuntime()
    const id = await memory.run(spec)
    const { remote } = fakeAgent('docker-1', memory)
    const signal = new AbortController().signal
    const onChange = () => undefined
    await expect(
      remote.watch(id, { path: '/etc', roots: ['/workspace'], signal, onChange }),
    ).rejects.toMatchObject({ code: 'path_not_allowed', kind: 'bad_request' })
    await expect(
      remote.watch('nope', { path: '/workspace', signal, onChange }),
    ).rejects.toMatchObject({ kind: 'not_found' })
    await expect(remote.watch(id, { path: 'relative', signal, onChange })).rejects.toMatchObject({
      kind: 'bad_request',
    })
    const watching = remote.watch(id, { path: '/workspace', signal, onChange })
    await until(() => (memory.watchers.get(id)?.size ?? 0) === 1)
    await memory.remove(id)
    await expect(watching).resolves.toBeUndefined()
  })

  it('answers 409 watch_unavailable from a host whose runtime cannot watch', async () => {
    const memory = new MemoryRuntime()
    const id = await memory.run(spec)
    ;(memory as { watch?: unknown }).watch = undefined
    const { remote } = fakeAgent('docker-1', memory)
    const signal = new AbortController().signal
    await expect(
      remote.watch(id, { path: '/workspace', signal, onChange: () => undefined }),
    ).rejects.toMatchObject({ code: 'watch_unavailable' })
  })
})
