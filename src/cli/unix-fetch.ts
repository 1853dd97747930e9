import { request } from 'node:http'
import { Readable } from 'node:stream'

const responseHeaders = (raw: NodeJS.Dict<string | string[]>) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else if (value !== undefined) headers.set(name, value)
  }
  return headers
}

/**
 * A `fetch` that speaks HTTP/1.1 over the Unix socket at `socketPath` (the global fetch
 * cannot): how an isolated worker, which has no network, reaches the service. The URL's path
 * and query are sent, its host only as the Host header; the response body streams.
 *
 * @example
 * const res = await unixFetch('/run/workers-spawner/api/api.sock')('http://localhost/v1/whoami')
 */
export const unixFetch = (socketPath: string): typeof fetch =>
  (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input)
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((value, name) => (headers[name] = value))
    const body =
      init.body == null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer())
    if (body) headers['content-length'] = String(body.length)
    const method = init.method ?? 'GET'
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        {
          socketPath,
          path: `${url.pathname}${url.search}`,
          method,
          headers: { host: url.host, ...headers },
        },
        (res) => {
          const status = res.statusCode ?? 502
          const empty = status === 204 || status === 304 || method === 'HEAD'
          if (empty) res.resume()
          const stream = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>)
          resolve(
            new Response(stream, {
              status,
              statusText: res.statusMessage ?? '',
              headers: responseHeaders(res.headers),
            }),
          )
        },
      )
      req.once('error', reject)
      const signal = init.signal
      if (signal) {
        if (signal.aborted) req.destroy(signal.reason as Error)
        else
          signal.addEventListener('abort', () => req.destroy(signal.reason as Error), {
            once: true,
          })
      }
      req.end(body)
    })
  }) as typeof fetch
