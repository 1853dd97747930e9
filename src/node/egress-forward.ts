import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http'
import { pipeline } from 'node:stream'
import { normalizeHost } from '../core/egress.ts'
import type { Refusal } from './egress-dial.ts'
import { type EgressGate, refusalText } from './egress-gate.ts'

// Hop-by-hop headers (RFC 9110 §7.6.1) end at the proxy; the server answered `expect` itself.
const HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/** `headers` without hop-by-hop ones (and those `Connection` names), Proxy-*, Host, Expect. */
const forwardable = (headers: IncomingHttpHeaders): Record<string, string | string[]> => {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP.has(name) || named.includes(name)) continue
    if (name.startsWith('proxy-') || name === 'expect' || name === 'host') continue
    out[name] = value
  }
  return out
}

const target = (raw: string | undefined): URL | Refusal => {
  let url: URL
  try {
    url = new URL(raw ?? '')
  } catch {
    return { status: 400, reason: 'the request target is not an http:// URL' }
  }
  if (url.protocol === 'https:') {
    return { status: 400, reason: 'https:// URLs go through CONNECT, not a plain request' }
  }
  if (url.protocol !== 'http:' || !normalizeHost(url.hostname)) {
    return { status: 400, reason: 'the request target is not an http:// URL' }
  }
  return url
}

/**
 * Serves one absolute-form request (`GET http://host/path`): admitted by `gate`, then sent on
 * a connection of its own to the checked address, bodies streamed both ways.
 */
export const forward = async (
  gate: EgressGate,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> => {
  const refuse = (r: Refusal, where?: string) => {
    if (res.headersSent) return void res.destroy()
    const challenge =
      r.status === 407 ? { 'Proxy-Authenticate': 'Basic realm="workers-spawner"' } : {}
    res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8', ...challenge })
    res.end(refusalText(r, where))
  }
  const worker = await gate.authenticate(req.headers['proxy-authorization'])
  if ('status' in worker) return refuse(worker)
  const url = target(req.url)
  if ('status' in url) return refuse(url)
  const host = normalizeHost(url.hostname)!
  const port = url.port ? Number(url.port) : 80
  const where = `${host}:${port}`
  const opened = await gate.open(worker, host, port)
  if ('status' in opened) return refuse(opened, where)
  const { socket } = opened
  // One request per upstream connection: it ends with the answer or with the client.
  res.once('close', () => socket.destroy())
  socket.setTimeout(gate.idleMs, () => socket.destroy(new Error('idle')))
  const upstream = request({
    method: req.method,
    path: `${url.pathname}${url.search}`,
    headers: { ...forwardable(req.headers), host: url.host },
    createConnection: () => socket,
    setHost: false,
  })
  upstream.on('response', (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardable(answer.headers))
    pipeline(answer, res, () => socket.destroy())
  })
  upstream.on('error', (e) => {
    const code = (e as { code?: unknown }).code
    refuse(
      { status: 502, reason: `failed upstream (${typeof code === 'string' ? code : e.message})` },
      where,
    )
  })
  pipeline(req, upstream, () => {})
}
