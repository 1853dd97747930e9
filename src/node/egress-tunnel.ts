import { type IncomingMessage, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { normalizeHost } from '../core/egress.ts'
import type { Refusal } from './egress-dial.ts'
import { type EgressGate, refusalText } from './egress-gate.ts'

const TARGET = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/

/** Answers a CONNECT with a refusal on the raw socket, then closes it. */
const refuse = (socket: Duplex, r: Refusal, target?: string) => {
  const body = refusalText(r, target)
  const challenge = r.status === 407 ? 'Proxy-Authenticate: Basic realm="workers-spawner"\r\n' : ''
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status]}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${challenge}\r\n${body}`,
    () => socket.destroy(),
  )
}

/** Pipes both ways; half-closes pass through, an error or `idleMs` without bytes ends both. */
const splice = (
  a: Duplex,
  b: Duplex & { setTimeout(ms: number, cb: () => void): unknown },
  idleMs: number,
) => {
  const kill = () => {
    a.destroy()
    b.destroy()
  }
  // A side that is done ends the other once that has flushed what it was given.
  const finish = (s: Duplex) => {
    if (s.writableFinished) return s.destroy()
    s.once('finish', () => s.destroy())
    s.end()
  }
  a.on('error', kill).on('close', () => finish(b))
  b.on('error', kill).on('close', () => finish(a))
  // Reads and writes both reset a socket's timer, so one side's timer sees both directions.
  b.setTimeout(idleMs, kill)
  a.pipe(b)
  b.pipe(a)
}

/** Serves one CONNECT (`host:port`): admitted by `gate`, then a tunnel to the checked address. */
export const tunnel = async (
  gate: EgressGate,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): Promise<void> => {
  gate.track(client)
  client.on('error', () => client.destroy())
  const worker = await gate.authenticate(req.headers['proxy-authorization'])
  if ('status' in worker) return refuse(client, worker)
  const m = TARGET.exec(req.url ?? '')
  const host = m ? normalizeHost(m[1]!) : undefined
  const port = Number(m?.[2])
  if (!host || !(port >= 1 && port <= 65_535)) {
    return refuse(client, { status: 400, reason: 'CONNECT needs a target host:port' })
  }
  const target = `${host}:${port}`
  const opened = await gate.open(worker, host, port)
  if ('status' in opened) return refuse(client, opened, target)
  const upstream = opened.socket
  if (client.destroyed) return void upstream.destroy()
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
  if (head.length > 0) upstream.write(head)
  splice(client, upstream, gate.idleMs)
}
