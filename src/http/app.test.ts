import { describe, expect, it } from 'vitest'
import { catalog } from '../core/catalog.ts'
import type { ContainerRuntime } from '../core/runtime.ts'
import { defineAgent } from '../core/plugin/contract.ts'
import { PluginRegistry } from '../core/plugin/registry.ts'
import { WorkerService } from '../core/service.ts'
import { createApp, type AppOptions } from './app.ts'
import type { Logger } from '../core/logger.ts'

/** A runtime that records every call and has no containers: bad input must not reach it. */
const recordingRuntime = () => {
  const calls: string[] = []
  const runtime = new Proxy({} as ContainerRuntime, {
    get: (_t, prop: string) => async () => {
      calls.push(prop)
      if (prop === 'list') return []
      if (prop === 'runtimes') return ['runc']
      if (prop === 'ping') return undefined
      throw new Error(`unexpected runtime call: ${prop}`)
    },
  })
  return { runtime, calls }
}

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
  { name: 'broken', module: { default: { apiVersion: 'v1', kind: 'capability', name: 'broken' } } },
])

const setup = (opts: Partial<AppOptions> = {}) => {
  const { runtime, calls } = recordingRuntime()
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'img',
    hostEnv: {},
  })
  return { app: createApp({ service, maxBodyBytes: 1024, maxFileBytes: 2048, ...opts }), calls }
}

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
})

const WID = 'w-0123456789abcdef'

describe('HTTP routes', () => {
  it('has a route for every catalog command, and the OpenAPI document lists each', async () => {
    const { app } = setup()
    const doc = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { operationId: string }>>
    }
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId))
    expect(ops.sort()).toEqual(
      [...catalog.map((c) => c.name), 'whoami', 'events', 'healthz', 'readyz'].sort(),
    )
    for (const cmd of catalog) {
      const path = cmd.http.path.replace(':id', WID)
      const res = await app.request(path, { method: cmd.http.method.toUpperCase() })
      const body = (await res.json()) as { error?: { code: string } }
      expect(body.error?.code, `${cmd.name} ${path}`).not.toBe('route_not_found')
    }
  })

  it('answers health, docs and plugins', async () => {
    const { app } = setup()
    expect(await (await app.request('/healthz')).json()).toEqual({ ok: true })
    expect((await app.request('/readyz')).status).toBe(200)
    expect(await (await app.request('/docs')).text()).toContain('/openapi.json')
    const plugins = (await (await app.request('/v1/plugins')).json()) as {
      plugins: { name: string }[]
      errors: { plugin: string; field: string }[]
    }
    expect(plugins.plugins.map((p) => p.name)).toEqual(['shell'])
    expect(plugins.errors[0]).toMatchObject({ plugin: 'broken', field: 'version' })
  })

  it.each([
    ['unknown config key', { agent: 'shell', colour: 1 }, 400, 'bad_request', /colour/],
    ['wrong type', { agent: 'shell', ttlSeconds: 'x' }, 400, 'bad_request', /ttlSeconds/],
    ['unknown agent', { agent: 'nope' }, 404, 'unknown_plugin', /'nope'/],
    [
      'unknown capability',
      { agent: 'shell', capabilities: ['ghost'] },
      404,
      'unknown_plugin',
      /'ghost'/,
    ],
    [
      'broken capability',
      { agent: 'shell', capabilities: ['broken'] },
      400,
      'plugin_unavailable',
      /broken/,
    ],
    ['invalid JSON', '{"agent":', 400, 'bad_request', /JSON/],
    [
      'body over the cap',
      { agent: 'shell', env: { BIG: 'x'.repeat(2000) } },
      413,
      'payload_too_large',
      /1024/,
    ],
  ])('create refuses %s without touching Docker', async (_name, body, status, code, message) => {
    const { app, calls } = setup()
    const res = await app.request('/v1/workers', json(body))
    expect(res.status).toBe(status)
    const err = (await res.json()) as { error: { code: string; message: string } }
    expect(err.error.code).toBe(code)
    expect(err.error.message).toMatch(message)
    expect(calls.filter((c) => c !== 'list')).toEqual([])
  })

  it('refuses bad command input before looking up the worker', async () => {
    const { app, calls } = setup()
    const both = await app.request(
      `/v1/workers/${WID}/commands`,
      json({ shell: 'ls', argv: ['ls'] }),
    )
    expect(both.status).toBe(400)
    expect(((await both.json()) as { error: { message: string } }).error.message).toMatch(
      /exactly one of/,
    )
    const badId = await app.request('/v1/workers/nope/commands', json({ shell: 'ls' }))
    expect(badId.status).toBe(400)
    expect(calls).toEqual([])
  })

  it('answers 404 for a worker that does not exist', async () => {
    const { app } = setup()
    const res = await app.request(`/v1/workers/${WID}`)
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({
      error: { code: 'worker_not_found', message: `no worker '${WID}'` },
    })
  })

  it('refuses file paths outside the allowed roots', async () => {
    const { app, calls } = setup()
    for (const path of ['relative.txt', '/workspace/../etc/passwd', '/etc/shadow']) {
      const res = await app.request(`/v1/workers/${WID}/files?path=${encodeURIComponent(path)}`)
      // The worker lookup comes first (404); path checks need the worker's workdir.
      expect([400, 404]).toContain(res.status)
    }
    expect(calls.every((c) => c === 'list')).toBe(true)
  })

  it('answers unknown routes with the error JSON', async () => {
    const { app } = setup()
    const res = await app.request('/v2/nothing')
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('route_not_found')
  })
})

describe('JSON bodies', () => {
  it.each([
    ['text/plain', 'text/plain'],
    ['text/plain with a charset', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['a JSON look-alike', 'application/jsonx'],
    ['no type at all', undefined],
  ])('refuses %s with 415, before parsing or touching Docker', async (_name, type) => {
    const { app, calls } = setup()
    for (const path of [
      '/v1/workers',
      `/v1/workers/${WID}/commands`,
      `/v1/workers/${WID}/respond`,
    ]) {
      const res = await app.request(path, {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body: JSON.stringify({ agent: 'shell', shell: 'id', text: 'x' }),
      })
      expect(res.status, path).toBe(415)
      const err = (await res.json()) as { error: { code: string; message: string } }
      expect(err.error.code).toBe('unsupported_media_type')
      expect(err.error.message).toMatch(/application\/json/)
    }
    const patch = await app.request(`/v1/workers/${WID}`, {
      method: 'PATCH',
      headers: type ? { 'content-type': type } : {},
      body: '{"ttlSeconds":60}',
    })
    expect(patch.status).toBe(415)
    expect(calls).toEqual([])
  })

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/merge-patch+json',
  ])('reads %s', async (type) => {
    const { app } = setup()
    const res = await app.request('/v1/workers', {
      method: 'POST',
      headers: { 'content-type': type },
      body: '{"agent":"nope"}',
    })
    // Past the media type and the parser: the config itself is judged.
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_plugin')
  })

  it('reads an empty body without a type as {} (curl -X POST)', async () => {
    const { app } = setup()
    const create = await app.request('/v1/workers', { method: 'POST' })
    expect(create.status).toBe(400)
    expect(((await create.json()) as { error: { message: string } }).error.message).toMatch(/agent/)
    const update = await app.request(`/v1/workers/${WID}`, { method: 'PATCH' })
    expect(((await update.json()) as { error: { code: string } }).error.code).toBe(
      'worker_not_found',
    )
  })
})

describe('Host checks', () => {
  it('refuses a foreign Host when unauthenticated callers are operators', async () => {
    const { app, calls } = setup()
    const res = await app.request('http://rebind.test:8080/v1/workers', json({ agent: 'shell' }))
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('host_not_allowed')
    expect((await app.request('http://rebind.test:8080/healthz')).status).toBe(403)
    expect(calls).toEqual([])
  })

  it('serves the names it is given', async () => {
    const { app } = setup({ allowedHosts: ['spawner.lan'] })
    expect((await app.request('http://spawner.lan:8080/v1/plugins')).status).toBe(200)
  })

  it('leaves Host alone when every /v1 call needs a token (a browser never sends one by itself)', async () => {
    const { app } = setup({ auth: { apiToken: 'operator-token-0123456789' } })
    expect((await app.request('http://spawner.example.com/healthz')).status).toBe(200)
    const noToken = await app.request('http://spawner.example.com/v1/plugins')
    expect(noToken.status).toBe(401)
    const withToken = await app.request('http://spawner.example.com/v1/plugins', {
      headers: { authorization: 'Bearer operator-token-0123456789' },
    })
    expect(withToken.status).toBe(200)
    const crossSite = await app.request('http://spawner.example.com/v1/plugins', {
      headers: { authorization: 'Bearer operator-token-0123456789', origin: 'https://evil.test' },
    })
    expect(crossSite.status).toBe(403)
  })
})

describe('surfaces and probes', () => {
  it('serves workers only the /v1 routes and /healthz', async () => {
    const { app } = setup({ auth: { required: true }, surface: 'worker' })
    for (const path of ['/docs', '/openapi.json', '/readyz']) {
      const res = await app.request(path)
      expect(res.status, path).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('route_not_found')
    }
    expect(await (await app.request('http://172.17.0.1:41234/healthz')).json()).toEqual({
      ok: true,
    })
    // Its own name is host.docker.internal: no Host check here, a token is required instead.
    expect((await app.request('http://host.docker.internal:41234/v1/plugins')).status).toBe(401)
  })

  it('says which dependency is not ready, and keeps the detail for the log', async () => {
    const warnings: unknown[] = []
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      error: () => {},
      warn: (msg, fields) => warnings.push({ msg, ...fields }),
    }
    const { app } = setup({
      logger,
      ready: {
        docker: async () => undefined,
        redis: async () => {
          throw new Error('connect ECONNREFUSED 10.9.8.7:6380 (user admin)')
        },
      },
    })
    const res = await app.request('/readyz')
    expect(res.status).toBe(503)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({
      ready: false,
      docker: 'ok',
      redis: 'failed',
      error: { code: 'not_ready', message: 'not ready: redis did not answer' },
    })
    expect(text).not.toMatch(/10\.9\.8\.7|ECONNREFUSED|admin/)
    expect(warnings).toEqual([
      {
        msg: 'not ready',
        dependency: 'redis',
        error: 'connect ECONNREFUSED 10.9.8.7:6380 (user admin)',
      },
    ])
  })
})
