import { once } from 'node:events'
import { createServer as createHttpServer, type Server } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { parseCidrs } from '../core/egress.ts'
import { attachEgressProxy, type EgressProxyOptions } from './egress-proxy.ts'

/** Test fixtures of the egress proxy: local listeners and clients, on 127.0.0.1 only. */

export const LOOPBACK = parseCidrs('127.0.0.1/32')

export const portOf = (server: { address(): unknown }) => (server.address() as AddressInfo).port

/** A TCP server on `host` that echoes what it reads (half-closes pass through). */
export const echoServer = async (host = '127.0.0.1', port = 0, prefix = '') => {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy())
    if (prefix) s.write(prefix)
    s.pipe(s)
  })
  server.listen(port, host)
  await once(server, 'listening')
  return server
}

/** An HTTP server that answers what it received: method, url, headers and body. */
export const mirrorServer = async () => {
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    res.setHeader('Keep-Alive', 'timeout=5')
    res.setHeader('Connection', 'keep-alive, X-Secret-Hop')
    res.setHeader('X-Secret-Hop', 'dropped')
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      }),
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server
}

/** Observed events of one proxy. */
export interface Seen {
  denied: Parameters<NonNullable<EgressProxyOptions['onDenied']>>[0][]
  allowed: Parameters<NonNullable<EgressProxyOptions['onAllowed']>>[0][]
}

/**
 * The worker API server with the proxy attached, on 127.0.0.1:0 or a Unix socket. Workers:
 * `KEY-A` → `a` with `allow`. Names resolve through `resolve` (default: `*.test` → 127.0.0.1,
 * anything else fails), never through real DNS.
 */
export const startProxy = async (
  allow: string[],
  opts: Partial<EgressProxyOptions> = {},
  path?: string,
) => {
  const server = createAdaptorServer({
    fetch: (req) => new Response(`app ${new URL(req.url).pathname}`),
  }) as Server
  const seen: Seen = { denied: [], allowed: [] }
  const detach = attachEgressProxy(server, {
    identify: async (key) => (key === 'KEY-A' ? { workerId: 'a', allow } : undefined),
    onDenied: (e) => seen.denied.push(e),
    onAllowed: (e) => seen.allowed.push(e),
    resolve: async (host) => {
      if (host.endsWith('.test')) return ['127.0.0.1']
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
    },
    ...opts,
  })
  if (path) server.listen(path)
  else server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const close = async () => {
    detach()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
  return { server, seen, detach, close, port: path ? 0 : portOf(server), path }
}

export const basic = (key: string, user = 'worker') =>
  `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`

/** The head of an HTTP response read off a raw socket, and the bytes after it. */
const readHead = (socket: Socket) =>
  new Promise<{ status: number; head: string; rest: Buffer }>((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.removeListener('data', onData)
      socket.pause()
      const head = buffered.subarray(0, end).toString()
      resolve({ status: Number(head.split(' ')[1]), head, rest: buffered.subarray(end + 4) })
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', () => reject(new Error(`closed after ${buffered.toString()}`)))
  })

/** Sends `CONNECT target` to the proxy (TCP port or Unix socket path) and reads the answer. */
export const connectVia = async (
  where: number | string,
  target: string,
  key?: string,
  early = '',
) => {
  const socket = typeof where === 'number' ? connect(where, '127.0.0.1') : connect(where)
  const auth = key === undefined ? '' : `Proxy-Authorization: ${basic(key)}\r\n`
  // `early`: bytes a client sends before the answer, in the same write as the request.
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n${early}`)
  const answer = await readHead(socket)
  // Bytes that came with the head of a 200 are the tunnel's: the test reads them.
  if (answer.status === 200 && answer.rest.length > 0) socket.unshift(answer.rest)
  return { ...answer, socket, body: answer.rest.toString() }
}

/** Writes `data` through an open tunnel and reads back as many bytes as `expected` has. */
export const roundTrip = (socket: Socket, data: string, expected = data) =>
  new Promise<string>((resolve, reject) => {
    let got = ''
    const onData = (chunk: Buffer) => {
      got += String(chunk)
      if (got.length < expected.length) return
      socket.removeListener('data', onData)
      socket.pause()
      resolve(got)
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.resume()
    socket.write(data)
  })
