import { describe, expect, it } from 'vitest'
import { TokenSigner } from '../core/auth/jwt.ts'
import { workerConfigSchema } from '../core/config.ts'
import { memoryService, TEST_SECRET } from '../../test/support/memory-service.ts'
import { createApp } from './app.ts'
import { PREVIEW_CSP, underPrefix, type PreviewForward, type PreviewTarget } from './preview.ts'
import { PreviewLinks } from './preview-links.ts'

const API_TOKEN = 'operator-token-0123456789'

/** An app over the memory service whose previews answer from `answer` and record what they got. */
const setup = async (answer = () => new Response('hi', { headers: { 'set-cookie': 'a=b' } })) => {
  const m = memoryService()
  const seen: { target: PreviewTarget; req: Request }[] = []
  const forward: PreviewForward = async (target, req) => {
    seen.push({ target, req })
    return answer()
  }
  const signer = new TokenSigner(TEST_SECRET)
  const app = createApp({
    service: m.service,
    auth: { apiToken: API_TOKEN, signer },
    previews: { forward, links: new PreviewLinks(TEST_SECRET), maxLinkSeconds: 600 },
  })
  const { workerId } = await m.create()
  const tokenOf = (id: string, tools: string[]) =>
    signer.sign({ sub: id, tools, exp: Math.floor(Date.now() / 1000) + 600 })
  return { ...m, app, seen, workerId, tokenOf }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('preview routes', () => {
  it('forwards without the caller credentials, and serves the answer sandboxed, cookie-free', async () => {
    const { app, seen, workerId } = await setup()
    const res = await app.request(`/v1/workers/${workerId}/ports/3000/a/b?c=d`, {
      headers: { ...bearer(API_TOKEN), cookie: 'session=x', 'x-other': '1' },
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hi')
    expect(res.headers.get('content-security-policy')).toBe(PREVIEW_CSP)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(seen[0]!.target).toMatchObject({ workerId, port: 3000, path: '/a/b?c=d' })
    const headers = seen[0]!.req.headers
    expect(headers.get('authorization')).toBeNull()
    expect(headers.get('cookie')).toBeNull()
    expect(headers.get('x-other')).toBe('1')
    expect(headers.get('x-forwarded-prefix')).toBe(`/v1/workers/${workerId}/ports/3000`)
  })

  it("refuses a worker without the preview tool, and one that is not the target's ancestor", async () => {
    const { app, service, workerId, tokenOf, create } = await setup()
    const lacking = await app.request(`/v1/workers/${workerId}/ports/3000/`, {
      headers: bearer(await tokenOf(workerId, ['status'])),
    })
    expect(lacking.status).toBe(403)
    expect((await lacking.json()).error.code).toBe('tool_not_allowed')
    const { workerId: other } = await create()
    const foreign = await app.request(`/v1/workers/${workerId}/ports/3000/`, {
      headers: bearer(await tokenOf(other, ['preview'])),
    })
    expect(foreign.status).toBe(403)
    expect((await foreign.json()).error.code).toBe('not_your_worker')
    const own = await app.request(`/v1/workers/${workerId}/ports/3000/`, {
      headers: bearer(await tokenOf(workerId, ['preview'])),
    })
    expect(own.status).toBe(200)
    // A sub-worker is within its parent's reach; the parent is not within the child's.
    const child = await service.create(
      { config: workerConfigSchema.parse({ agent: 'shell' }) },
      {},
      { parentId: workerId },
    )
    const down = await app.request(`/v1/workers/${child.workerId}/ports/3000/`, {
      headers: bearer(await tokenOf(workerId, ['preview'])),
    })
    expect(down.status).toBe(200)
    const up = await app.request(`/v1/workers/${workerId}/ports/3000/`, {
      headers: bearer(await tokenOf(child.workerId, ['preview'])),
    })
    expect(up.status).toBe(403)
  })

  it('refuses a bad port, a too-long link and a paused worker', async () => {
    const { app, service, workerId } = await setup()
    const auth = bearer(API_TOKEN)
    expect(
      (await app.request(`/v1/workers/${workerId}/ports/70000/`, { headers: auth })).status,
    ).toBe(400)
    const long = await app.request(`/v1/workers/${workerId}/preview-links`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ port: 3000, ttlSeconds: 601 }),
    })
    expect(long.status).toBe(400)
    await service.pause({ workerId })
    const paused = await app.request(`/v1/workers/${workerId}/ports/3000/`, { headers: auth })
    expect(paused.status).toBe(409)
  })

  it('serves a link without a token, past the browser guard, readable by the opaque page', async () => {
    const { app, seen, workerId } = await setup()
    const made = await app.request(`/v1/workers/${workerId}/preview-links`, {
      method: 'POST',
      headers: { ...bearer(API_TOKEN), 'content-type': 'application/json' },
      body: JSON.stringify({ port: 3000 }),
    })
    expect(made.status).toBe(201)
    const { path } = (await made.json()) as { path: string }
    // What a sandboxed page's own module script request looks like.
    const res = await app.request(`${path}main.js`, {
      headers: { origin: 'null', 'sec-fetch-site': 'cross-site' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    // Its JSON POSTs to its own server ask first: answered, without asking the server.
    const before = seen.length
    const preflight = await app.request(`${path}api`, {
      method: 'OPTIONS',
      headers: {
        origin: 'null',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST')
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type')
    expect(seen.length).toBe(before)
    // The same page asking the API is refused by the guard, token or not.
    const api = await app.request('/v1/workers', {
      headers: { ...bearer(API_TOKEN), origin: 'null', 'sec-fetch-site': 'cross-site' },
    })
    expect(api.status).toBe(403)
  })

  it('answers 503 where the runtime cannot reach into workers', async () => {
    const m = memoryService()
    const app = createApp({ service: m.service, previews: { maxLinkSeconds: 60 } })
    const { workerId } = await m.create()
    const res = await app.request(`/v1/workers/${workerId}/ports/3000/`)
    expect(res.status).toBe(503)
    expect((await res.json()).error.message).toMatch(/previews need a runtime/)
  })
})

describe('underPrefix', () => {
  const prefix = '/v1/workers/w-1/ports/3000'
  it.each([
    ['/login', `${prefix}/login`],
    ['http://localhost:3000/x?y', `${prefix}/x?y`],
    ['http://127.0.0.1:3000', `${prefix}/`],
    ['http://localhost:30001/x', 'http://localhost:30001/x'],
    ['//evil.test/x', '//evil.test/x'],
    ['next', 'next'],
  ])('%s → %s', (location, expected) => {
    expect(underPrefix(location, prefix, 3000)).toBe(expected)
  })
})

describe('the API reference', () => {
  it('documents the preview routes', async () => {
    const m = memoryService()
    const doc = (await (
      await createApp({ service: m.service }).request('/openapi.json')
    ).json()) as {
      paths: Record<string, Record<string, { operationId: string }>>
    }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/workers/{id}/ports',
        '/v1/workers/{id}/preview-links',
        '/v1/workers/{id}/ports/{port}/{path}',
        '/previews/{id}/{port}/{credential}/{path}',
      ]),
    )
    const ids = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId))
    expect(new Set(ids).size).toBe(ids.length)
  })
})
