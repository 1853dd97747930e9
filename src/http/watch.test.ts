import { describe, expect, it } from 'vitest'
import { memoryService } from '../../test/support/memory-service.ts'
import { sseEvents } from '../../test/support/sse.ts'
import { TokenSigner } from '../core/auth/jwt.ts'
import { buildOpenApi } from './openapi.ts'
import { catalog, type Command } from '../core/catalog.ts'
import { createApp } from './app.ts'

const API_TOKEN = 'operator-token-0123456789'
const signer = new TokenSigner('k'.repeat(32))
const operator = { authorization: `Bearer ${API_TOKEN}` }

const setup = async () => {
  const { service, create, runtime, containerOf } = memoryService()
  const [a, b] = [(await create()).workerId, (await create()).workerId]
  const app = createApp({ service, auth: { apiToken: API_TOKEN, signer } })
  const tokenOf = async (sub: string, tools = ['file']) => ({
    authorization: `Bearer ${await signer.sign({ sub, tools, exp: Math.floor(Date.now() / 1000) + 600 })}`,
  })
  const watch = (id: string, query = '', headers: Record<string, string> = operator) =>
    app.request(`/v1/workers/${id}/files/watch${query}`, { headers })
  /** Resolves once the runtime holds `n` watches of worker `id`. */
  const watching = async (id: string, n = 1) => {
    const container = await containerOf(id)
    while ((runtime.watchers.get(container)?.size ?? 0) < n) {
      await new Promise((r) => setImmediate(r))
    }
    return container
  }
  return { service, runtime, a, b, app, tokenOf, watch, watching }
}

/** Reads an SSE body until `n` events came; then leaves. */
const readEvents = async (res: Response, n: number) => {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (sseEvents(text).length < n) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  return { text, events: sseEvents(text) }
}

const codeOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string } }).error.code

describe('GET /v1/workers/:id/files/watch', () => {
  it('streams each change as a numbered file_changed event', async () => {
    const { a, runtime, service, watch, watching } = await setup()
    const res = await watch(a, '?path=/workspace/src')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const container = await watching(a)
    await service.putBytes(a, '/workspace/src/a.ts', new TextEncoder().encode('x'))
    runtime.change(container, { type: 'overflow' })
    const { text, events } = await readEvents(res, 2)
    expect(events).toEqual([
      ['file_changed', { type: 'created', path: '/workspace/src/a.ts', dir: false }],
      ['file_changed', { type: 'overflow' }],
    ])
    expect(text).toMatch(/id: 1\n/)
    // The client left: the watch in the container ended with it.
    while ((runtime.watchers.get(container)?.size ?? 0) > 0) {
      await new Promise((r) => setImmediate(r))
    }
  })

  it('ends with an end event when the worker is deleted', async () => {
    const { a, service, watch, watching } = await setup()
    const res = await watch(a)
    await watching(a)
    await service.delete({ workerId: a })
    const text = await res.text()
    expect(sseEvents(text)).toEqual([
      ['end', { workerId: a, path: '/workspace', changes: 0, ended: 'worker_gone' }],
    ])
  })

  it('refuses a path outside the roots with 400 path_not_allowed, before streaming', async () => {
    const { a, watch } = await setup()
    for (const path of ['/etc', '/workspace/../root', '/']) {
      const res = await watch(a, `?path=${encodeURIComponent(path)}`)
      expect(res.status, path).toBe(400)
      expect(await codeOf(res)).toBe('path_not_allowed')
    }
    const bad = await watch(a, '?recursive=maybe')
    expect(bad.status).toBe(400)
  })

  it('lets a worker token watch its own worker only, with the file tool', async () => {
    const { a, b, watch, tokenOf, watching } = await setup()
    const foreign = await watch(b, '', await tokenOf(a))
    expect(foreign.status).toBe(403)
    expect(await codeOf(foreign)).toBe('not_your_worker')
    const noTool = await watch(a, '', await tokenOf(a, ['status']))
    expect(noTool.status).toBe(403)
    expect(await codeOf(noTool)).toBe('tool_not_allowed')
    const own = await watch(a, '?recursive=false', await tokenOf(a))
    expect(own.status).toBe(200)
    await watching(a)
    await own.body!.cancel()
  })

  it('answers 429 too_many_watches past the cap of one worker', async () => {
    const { a, watch, watching } = await setup()
    const open = []
    for (let i = 0; i < 8; i++) open.push(await watch(a))
    await watching(a, 8)
    const ninth = await watch(a)
    expect(ninth.status).toBe(429)
    expect(await codeOf(ninth)).toBe('too_many_watches')
    await Promise.all(open.map((r) => r.body!.cancel()))
  })

  it('is in the OpenAPI document as an event stream, with the FileChange schema', () => {
    const doc = buildOpenApi(catalog as readonly Command[], { version: '1' }) as any
    const op = doc.paths['/v1/workers/{id}/files/watch'].get
    expect(op.operationId).toBe('watch')
    expect(Object.keys(op.responses['200'].content)).toEqual(['text/event-stream'])
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['id', 'path', 'recursive', 'durationMs']),
    )
    expect(doc.components.schemas.FileChange.properties.type.enum).toEqual([
      'created',
      'changed',
      'deleted',
      'overflow',
    ])
    const event =
      doc.components.schemas.SpawnerEvent.oneOf ?? doc.components.schemas.SpawnerEvent.anyOf
    expect(JSON.stringify(event)).toContain('file_changed')
  })
})
