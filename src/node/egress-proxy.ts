import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { forward } from './egress-forward.ts'
import { EgressGate, type EgressProxyOptions } from './egress-gate.ts'
import { tunnel } from './egress-tunnel.ts'

export type { EgressDenied, EgressProxyOptions, EgressWorker } from './egress-gate.ts'

/**
 * Installs an HTTP forward proxy for workers on `server` (the worker API server): CONNECT
 * tunnels and absolute-form `http://` requests, each authenticated with the worker's
 * credential, held to its allowlist (`allows`), and refused when the name resolves to a private
 * address outside `privateAllow`. Every other request goes to the server's existing request
 * listeners (those it had when attached: attach after the app's listener, as one added later
 * would see proxy requests too). Returns a function that removes the proxy and closes its open
 * connections.
 *
 * @example
 * const detach = attachEgressProxy(server, {
 *   identify: (key) => workerByKey(key), // { workerId, allow: ['registry.npmjs.org'] }
 *   onDenied: (e) => publish('egress_denied', e),
 * })
 */
export const attachEgressProxy = (server: Server, opts: EgressProxyOptions): (() => void) => {
  const gate = new EgressGate(opts)
  const onConnect = (req: IncomingMessage, client: Duplex, head: Buffer) => {
    tunnel(gate, req, client, head).catch(() => client.destroy())
  }
  const previous = server.listeners('request') as ((...args: unknown[]) => void)[]
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? ''
    // Origin-form (`/path`) and `*` are the server's own requests; anything else a proxy's.
    if (url.startsWith('/') || url === '*') {
      for (const listener of previous) listener.call(server, req, res)
      return
    }
    forward(gate, req, res).catch(() => res.destroy())
  }
  server.removeAllListeners('request')
  server.on('request', onRequest)
  server.on('connect', onConnect)

  let detached = false
  return () => {
    if (detached) return
    detached = true
    server.removeListener('connect', onConnect)
    server.removeListener('request', onRequest)
    for (const listener of previous) server.on('request', listener)
    gate.close()
  }
}
