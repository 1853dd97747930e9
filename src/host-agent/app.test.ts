import { describe, expect, it } from 'vitest'
import { ConflictError } from '../core/errors.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { createHostAgentApp } from './app.ts'

const TOKEN = 'agent-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }

const setup = (opts: { maxBodyBytes?: number } = {}) => {
  const runtime = new MemoryRuntime()
  const app = createHostAgentApp({ runtime, token: TOKEN, name: 'docker-1', ...opts })
  return { runtime, app }
}

const ndjson = async (res: Response) =>
  (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)

const spec = {
  name: 'ws-net',
  image: 'img',
  env: {},
  labels: {},
  user: 'worker',
  workdir: '/',
  mounts: [],
  memoryBytes: 0,
  nanoCpus: 0,
  pidsLimit: 0,
  securityOpt: [],
  capDrop: [],
  capAdd: [],
  extraHosts: [],
}

describe('host agent HTTP API', () => {
  it('takes a spec’s network and worker API URL, and only an http(s) URL', async () => {
    const { app, runtime } = setup()
    const create = (body: object) =>
      app.request('/v1/containers', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const ok = await create({ ...spec, network: 'isolated', workerApi: 'http://core:8080' })
    expect(ok.status).toBe(201)
    const { id } = (await ok.json()) as { id: string }
    expect(runtime.specs.get(id)).toMatchObject({
      network: 'isolated',
      workerApi: 'http://core:8080',
    })
    for (const bad of [{ network: 'host' }, { workerApi: 'file:///etc/passwd' }]) {
      const res = await create({ ...spec, name: 'ws-bad', ...bad })
      expect(res.status).toBe(400)
      expect(JSON.stringify(await res.json())).toMatch(Object.keys(bad)[0]!)
    }
  })

  it('answers /healthz without a token and nothing under /v1 without the right one', async () => {
    const { app } = setup()
    expect(await (await app.request('/healthz')).json()).toEqual({ ok: true, name: 'docker-1' })
    const refused: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: TOKEN },
    ]
    for (const headers of refused) {
      const res = await app.request('/v1/containers', { headers })
      expect(res.status).toBe(401)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized')
    }
    // The watch stream too: a worker relayed through the agent gets no watch of any container.
    for (const headers of refused) {
      const res = await app.request('/v1/containers/abc/watch', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ path: '/workspace' }),
      })
      expect(res.status).toBe(401)
    }
    expect((await app.request('/v1/containers', { headers: auth })).status).toBe(200)
    const missing = await app.request('/v1/nothing', { headers: auth })
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { code: 'route_not_found' } })
  })

  it('reports capacity with its name and whether it has an image', async () => {
    const { app, runtime } = setup()
    runtime.images.set('img', 'sha256:1')
    const res = await app.request('/v1/capacity?image=img', { headers: auth })
    expect(await res.json()).toMatchObject({
      name: 'docker-1',
      image: true,
      workers: 0,
      runtimes: ['runc'],
    })
  })

  it('refuses a bad spec with the fields named, and a body over the cap with 413', async () => {
    const { app } = setup({ maxBodyBytes: 1024 })
    const bad = await app.request('/v1/containers', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', image: '' }),
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /image.*env/,
    )
    const big = await app.request('/v1/containers/x/files?path=/a', {
      method: 'PUT',
      headers: auth,
      body: new Uint8Array(2048),
    })
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ error: { code: 'payload_too_large' } })
  })

  it("answers an exec that fails before any output with the error's own status", async () => {
    const { app, runtime } = setup()
    const exec = (id: string) =>
      app.request(`/v1/containers/${id}/exec`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ argv: ['true'] }),
      })
    expect((await exec('nope')).status).toBe(404)
    const id = await runtime.run({
      name: 'ws-1',
      image: 'img',
      env: {},
      labels: {},
      user: 'worker',
      workdir: '/',
      mounts: [],
      memoryBytes: 0,
      nanoCpus: 0,
      pidsLimit: 0,
      securityOpt: [],
      capDrop: [],
      capAdd: [],
      extraHosts: [],
    })
    await runtime.pause(id)
    const paused = await exec(id)
    expect(paused.status).toBe(409)
    expect(await paused.json()).toMatchObject({ error: { code: 'conflict' } })
    await runtime.unpause(id)
    runtime.onExec = async (_id, req) => {
      req.onOutput?.('stdout', 'out\n')
      throw new ConflictError('changed its mind')
    }
    const late = await exec(id)
    expect(late.status).toBe(200)
    expect(late.headers.get('content-type')).toBe('application/x-ndjson')
    expect(await ndjson(late)).toEqual([
      { stream: 'stdout', data: 'out\n' },
      { error: { code: 'conflict', message: 'changed its mind' }, status: 409 },
    ])
  })
})
