import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { unixFetch } from './unix-fetch.ts'

describe('unixFetch', () => {
  const servers: Server[] = []
  const dirs: string[] = []
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-unix-'))
    dirs.push(dir)
    return dir
  }
  afterEach(async () => {
    for (const s of servers.splice(0))
      await new Promise<void>((resolve) => s.close(() => resolve()))
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  const serve = async (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const path = join(tempDir(), 'api.sock')
    const server = createServer(handler)
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(path, resolve))
    return path
  }

  it('sends method, path, query, headers and body; returns status, headers and body', async () => {
    const path = await serve((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        res.writeHead(201, {
          'content-type': 'application/json',
          'x-seen': req.headers.authorization ?? '',
        })
        res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, body }))
      })
    })
    const res = await unixFetch(path)('http://localhost/v1/workers?x=1', {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: '{"agent":"shell"}',
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-seen')).toBe('Bearer t')
    expect(await res.json()).toEqual({
      method: 'POST',
      url: '/v1/workers?x=1',
      host: 'localhost',
      body: '{"agent":"shell"}',
    })
    const empty = await serve((_req, res) => res.writeHead(204).end())
    expect((await unixFetch(empty)('http://localhost/x', { method: 'DELETE' })).status).toBe(204)
  })

  it('streams the response body: the first chunk arrives before the server ends it', async () => {
    let finish!: () => void
    const finished = new Promise<void>((resolve) => (finish = resolve))
    const path = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('event: output\ndata: 1\n\n')
      void finished.then(() => res.end('event: result\ndata: 2\n\n'))
    })
    const res = await unixFetch(path)('http://localhost/v1/events')
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toBe('event: output\ndata: 1\n\n')
    finish()
    let rest = ''
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value)
    expect(rest).toBe('event: result\ndata: 2\n\n')
  })

  it('rejects when nothing listens on the socket', async () => {
    await expect(
      unixFetch(join(tempDir(), 'api.sock'))('http://localhost/v1/whoami'),
    ).rejects.toThrow(/ENOENT/)
  })
})
