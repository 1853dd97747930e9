import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { createHostAgentApp, type HostAgentOptions } from './app.ts'
import { readHostAgentSettings } from './settings.ts'

const TOKEN = 'agent-token-0123456789'

// What a web page would ask for: root, with the host's root directory mounted.
const rootSpec = {
  name: 'ws-page',
  image: 'img',
  env: {},
  labels: {},
  user: '0:0',
  workdir: '/',
  mounts: [{ source: '/', target: '/host', readOnly: false }],
  memoryBytes: 0,
  nanoCpus: 0,
  pidsLimit: 0,
  securityOpt: [],
  capDrop: [],
  capAdd: [],
  extraHosts: [],
}

const setup = (opts: Partial<HostAgentOptions> = {}) => {
  const runtime = new MemoryRuntime()
  const app = createHostAgentApp({ runtime, token: undefined, name: 'docker-1', ...opts })
  return { runtime, app }
}

const codeOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string } }).error.code

const post = (headers: Record<string, string>, body: string = JSON.stringify(rootSpec)) => ({
  method: 'POST',
  headers,
  body,
})

describe('host agent: what a web browser sends is refused', () => {
  it('refuses another origin and cross-site fetches, with a token or without', async () => {
    for (const token of [undefined, TOKEN]) {
      const { app, runtime } = setup({ token })
      const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
      const json = { ...auth, 'content-type': 'application/json' }
      const refused: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
      ]
      for (const headers of refused) {
        const res = await app.request('/v1/containers', post({ ...json, ...headers }))
        expect(res.status, JSON.stringify(headers)).toBe(403)
        expect(await codeOf(res)).toBe('cross_origin')
        const list = await app.request('/v1/containers', { headers: { ...auth, ...headers } })
        expect(list.status).toBe(403)
      }
      expect(runtime.specs.size).toBe(0)
      // Programs send neither header; a same-origin page may.
      expect((await app.request('/v1/containers', post(json))).status).toBe(201)
      const same = { ...auth, origin: 'http://localhost', 'sec-fetch-site': 'same-origin' }
      expect((await app.request('/v1/containers', { headers: same })).status).toBe(200)
    }
  })

  it('without a token, answers only loopback names and the allowed hosts (DNS rebinding)', async () => {
    const { app, runtime } = setup({ allowedHosts: ['docker-1.lan'] })
    const json = { 'content-type': 'application/json' }
    const rebound = ['http://rebound.example:8081/v1/containers', 'http://10.0.0.5:8081/healthz']
    for (const url of rebound) {
      const res = await app.request(url, url.endsWith('containers') ? post(json) : {})
      expect(res.status, url).toBe(403)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error).toMatchObject({ code: 'host_not_allowed' })
      expect(body.error.message).toMatch(/HOST_AGENT_ALLOWED_HOSTS/)
    }
    expect(runtime.specs.size).toBe(0)
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'docker-1.lan']) {
      const res = await app.request(`http://${host}:8081/v1/containers`)
      expect(res.status, host).toBe(200)
    }
  })

  it('with a token, any Host name may reach it: a browser never sends the bearer itself', async () => {
    const { app } = setup({ token: TOKEN })
    const res = await app.request('http://docker-1.internal:8081/v1/containers', {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(res.status).toBe(200)
  })

  it('takes JSON bodies only with a JSON content type (415), which no form can send', async () => {
    const { app, runtime } = setup()
    const execs: string[][] = []
    runtime.onExec = async (_id, req) => {
      execs.push(req.argv)
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }
    }
    const created = await app.request(
      '/v1/containers',
      post({ 'content-type': 'application/json' }),
    )
    const id = (await created.json()) as { id: string }
    const routes = [
      ['/v1/containers', JSON.stringify({ ...rootSpec, name: 'ws-page-2' })],
      [`/v1/containers/${id.id}/exec`, JSON.stringify({ argv: ['id'] })],
      ['/v1/images', JSON.stringify({ tag: 'img:page', dockerfile: 'FROM img' })],
    ] as const
    for (const [path, body] of routes) {
      const types = [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        undefined,
      ]
      for (const type of types) {
        const res = await app.request(path, post(type ? { 'content-type': type } : {}, body))
        expect(res.status, `${path} ${type}`).toBe(415)
        expect(await codeOf(res)).toBe('unsupported_media_type')
      }
    }
    expect([...runtime.specs.keys()]).toEqual([id.id])
    expect(execs).toEqual([])
    expect(runtime.builds).toEqual([])
  })

  it('reads HOST_AGENT_ALLOWED_HOSTS as a list of host names', () => {
    const settings = readHostAgentSettings({ HOST_AGENT_ALLOWED_HOSTS: 'docker-1.lan, [fd00::1]' })
    expect(settings.HOST_AGENT_ALLOWED_HOSTS).toEqual(['docker-1.lan', '[fd00::1]'])
    expect(readHostAgentSettings({}).HOST_AGENT_ALLOWED_HOSTS).toEqual([])
    expect(() => readHostAgentSettings({ HOST_AGENT_ALLOWED_HOSTS: 'http://x:1' })).toThrow(
      /HOST_AGENT_ALLOWED_HOSTS/,
    )
  })
})
