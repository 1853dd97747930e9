import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpFetch } from './http-fetch.ts'

describe('the gateway’s fetch on node:http', () => {
  let server: Server
  let base = ''
  const seen: { method?: string; headers: Record<string, unknown>; body: string }[] = []
  let release: () => void = () => {}
  const httpFetch = createHttpFetch()

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        seen.push({
          method: req.method,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        })
        if (req.url === '/gzip') {
          res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' })
          res.end(gzipSync('{"ok":true}'))
        } else if (req.url === '/empty') {
          res.writeHead(204)
          res.end()
        } else if (req.url === '/stream') {
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          res.write('data: first\n\n')
          // The rest comes only when the test says so: the first part must arrive on its own.
          release = () => res.end('data: last\n\n')
        } else {
          res.writeHead(201, { 'x-answer': 'yes', 'content-type': 'text/plain' })
          res.end(`got ${req.method} ${req.url}`)
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('sends the method, headers and bytes, and answers status, headers and body', async () => {
    const res = await httpFetch(`${base}/v1/messages?beta=true`, {
      method: 'POST',
      headers: new Headers({ 'x-api-key': 'k', 'content-type': 'application/json' }),
      body: new TextEncoder().encode('{"a":1}'),
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-answer')).toBe('yes')
    expect(await res.text()).toBe('got POST /v1/messages?beta=true')
    expect(seen.at(-1)).toMatchObject({
      method: 'POST',
      body: '{"a":1}',
      headers: { 'x-api-key': 'k', 'content-length': '7' },
    })
  })

  it('streams an answer as it comes', async () => {
    const res = await httpFetch(`${base}/stream`)
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n')
    release()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: last\n\n')
    expect((await reader.read()).done).toBe(true)
  })

  it('decodes a compressed answer as fetch does, and drops the headers that no longer fit', async () => {
    const res = await httpFetch(`${base}/gzip`)
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(await res.json()).toEqual({ ok: true })
  })

  it('answers a bodiless status, refuses a dead port and honours an abort', async () => {
    expect((await httpFetch(`${base}/empty`)).status).toBe(204)
    const dead = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo
        s.close(() => resolve(port))
      })
    })
    await expect(httpFetch(`http://127.0.0.1:${dead}/`)).rejects.toThrow(/ECONNREFUSED/)
    const abort = new AbortController()
    const res = await httpFetch(`${base}/stream`, { signal: abort.signal })
    const reader = res.body!.getReader()
    await reader.read()
    abort.abort(new Error('client went away'))
    await expect(reader.read()).rejects.toThrow()
    release()
  })
})
