import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { unixFetch } from '../cli/unix-fetch.ts'
import { WorkerApiRelays } from './worker-api-relay.ts'

/**
 * The core, as the relay sees it: records each request; `/stream` holds until `finish()`. It
 * answers every other call 200, as a core that takes anonymous calls would.
 */
const startUpstream = async () => {
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] =
    []
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  let hungUp!: () => void
  const streamClosed = new Promise<void>((resolve) => (hungUp = resolve))
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      if (req.url!.endsWith('/stream')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write('event: output\ndata: 1\n\n')
        res.once('close', () => hungUp())
        void finished.then(() => res.end('event: result\ndata: 2\n\n'))
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return { server, seen, finish, streamClosed, url: `http://127.0.0.1:${port}` }
}

// Shaped like a worker token (a JWT); the core, not the relay, checks what it says.
const WORKER_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3LTEifQ.c2lnbmF0dXJl'
const bearer = { authorization: `Bearer ${WORKER_TOKEN}` }

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()))

describe('WorkerApiRelays', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-relay-'))
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let relays: WorkerApiRelays
  let socketDir: string
  const fetchVia = () => unixFetch(join(socketDir, 'api.sock'))

  beforeAll(async () => {
    upstream = await startUpstream()
    relays = new WorkerApiRelays(dir)
    socketDir = await relays.dirFor(`${upstream.url}/spawner`)
  })
  afterAll(async () => {
    await relays.close()
    upstream.server.closeAllConnections()
    await close(upstream.server)
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves one socket per core URL, in a directory holding only the socket', async () => {
    expect(await relays.dirFor(`${upstream.url}/spawner`)).toBe(socketDir)
    const other = await relays.dirFor('http://127.0.0.1:9/')
    expect(other).not.toBe(socketDir)
    expect(readdirSync(socketDir)).toEqual(['api.sock'])
    expect(statSync(socketDir).mode & 0o777).toBe(0o755)
    expect(statSync(join(socketDir, 'api.sock')).mode & 0o777).toBe(0o666)
    await expect(relays.dirFor('file:///etc/passwd')).rejects.toThrow(/not an http\(s\) URL/)
  })

  it('passes method, path, query, body and the worker’s own token on, adding nothing', async () => {
    upstream.seen.length = 0
    const res = await fetchVia()('http://localhost/v1/workers?x=1', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: '{"agent":"shell"}',
    })
    expect(res.status).toBe(200)
    const [req] = upstream.seen
    expect(req).toMatchObject({
      method: 'POST',
      url: '/spawner/v1/workers?x=1',
      body: '{"agent":"shell"}',
    })
    expect(req!.headers.host).toBe(new URL(upstream.url).host)
    expect(req!.headers.authorization).toBe(`Bearer ${WORKER_TOKEN}`)
    expect(Object.keys(req!.headers).filter((h) => /forwarded|^x-/.test(h))).toEqual([])
  })

  it('refuses, without passing it on, a call that carries no worker token', async () => {
    upstream.seen.length = 0
    const refused: Record<string, string>[] = [
      {},
      { authorization: 'Bearer an-api-token-0123456789' },
      { authorization: 'Bearer a.b' },
      { authorization: 'Bearer a.b.c.d' },
      { authorization: `Basic ${btoa('operator:secret')}` },
      { authorization: WORKER_TOKEN },
    ]
    for (const headers of refused) {
      const res = await fetchVia()('http://localhost/v1/whoami', { headers })
      expect(res.status, JSON.stringify(headers)).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'worker_token_required' } })
    }
    const create = await fetchVia()('http://localhost/v1/workers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"agent":"shell","network":"open"}',
    })
    expect(create.status).toBe(401)
    expect(upstream.seen).toEqual([])
    // The control: the same call with a worker token's shape goes through.
    expect((await fetchVia()('http://localhost/v1/whoami', { headers: bearer })).status).toBe(200)
    expect(upstream.seen.map((r) => r.url)).toEqual(['/spawner/v1/whoami'])
  })

  it('streams the answer: the first event arrives before the core ends the response', async () => {
    const res = await fetchVia()('http://localhost/v1/stream', { headers: bearer })
    const reader = res.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('event: output\ndata: 1\n\n')
    upstream.finish()
    let rest = ''
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value)
    expect(rest).toBe('event: result\ndata: 2\n\n')
  })

  it('ends the call upstream when the worker hangs up mid-stream', async () => {
    const fresh = await startUpstream()
    const dirFresh = await relays.dirFor(fresh.url)
    const abort = new AbortController()
    const res = await unixFetch(join(dirFresh, 'api.sock'))('http://localhost/v1/stream', {
      headers: bearer,
      signal: abort.signal,
    })
    await res.body!.getReader().read()
    abort.abort()
    await fresh.streamClosed
    fresh.finish()
    await close(fresh.server)
  })

  it('answers 502 when the core is unreachable', async () => {
    const down = await relays.dirFor('http://127.0.0.1:9/')
    const viaDown = unixFetch(join(down, 'api.sock'))
    const res = await viaDown('http://localhost/v1/whoami', { headers: bearer })
    expect(res.status).toBe(502)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'worker_api_unreachable',
    )
  })

  it('serves the same sockets again after a restart', async () => {
    await relays.close()
    relays = new WorkerApiRelays(dir)
    await relays.restore()
    upstream.seen.length = 0
    const res = await fetchVia()('http://localhost/v1/whoami', { headers: bearer })
    expect(res.status).toBe(200)
    expect(upstream.seen.map((r) => r.url)).toEqual(['/spawner/v1/whoami'])
  })
})
