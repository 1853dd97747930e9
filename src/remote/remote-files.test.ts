import { describe, expect, it } from 'vitest'
import { BadRequestError } from '../core/errors.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { fakeAgent } from '../../test/support/host-agent.ts'

const spec = {
  name: 'ws-files',
  image: 'img',
  env: {},
  labels: {},
  user: 'worker',
  workdir: '/workspace',
  mounts: [],
  memoryBytes: 0,
  nanoCpus: 0,
  pidsLimit: 0,
  securityOpt: [],
  capDrop: ['ALL'],
  capAdd: [],
  extraHosts: [],
}

describe('file options through the host agent', () => {
  it('carries mode, uid, gid and every root to the runtime', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec)
    const { remote } = fakeAgent('a', runtime)
    const roots = ['/workspace', '/tmp', '/home/worker']
    const seen = () => runtime.fileOptions.get(`${id}:/workspace/f`)
    const put = { mode: 0o600, uid: 1000, gid: 1000, roots }
    await remote.putFile(id, '/workspace/f', new Uint8Array([1]), put)
    expect(seen()).toEqual(put)
    await remote.getFile(id, '/workspace/f', { maxBytes: 10, roots: ['/workspace'] })
    expect(seen()).toEqual({ maxBytes: 10, roots: ['/workspace'] })
    await remote.getFile(id, '/workspace/f', { uid: 0 })
    expect(seen()).toEqual({ uid: 0 })
  })

  it('refuses an empty or relative list of roots, which must not read as no check', async () => {
    const runtime = new MemoryRuntime()
    const id = await runtime.run(spec)
    const { remote, app } = fakeAgent('a', runtime)
    await expect(remote.getFile(id, '/workspace/f', { roots: [] })).rejects.toThrow(BadRequestError)
    const url = `http://a.test:8081/v1/containers/${id}/files?path=/x&roots=tmp`
    const res = await app.request(url, {
      headers: { authorization: 'Bearer fake-agent-token-0123456789' },
    })
    expect(res.status).toBe(400)
    expect(runtime.fileOptions.size).toBe(0)
  })
})
