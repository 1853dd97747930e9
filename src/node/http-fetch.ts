import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { Readable, type Transform } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
}

/** Statuses whose answer has no body (a Response refuses one). */
const NO_BODY = new Set([101, 204, 205, 304])

const headersOf = (res: IncomingMessage, decoded: boolean) => {
  const headers = new Headers()
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!.toLowerCase()
    // A decoded body is no longer what these describe (as fetch() leaves them, they are dropped).
    if (decoded && (name === 'content-encoding' || name === 'content-length')) continue
    headers.append(name, res.rawHeaders[i + 1]!)
  }
  return headers
}

/**
 * `fetch` for the model gateway on Node's own HTTP client, with keep-alive agents: a loopback
 * call costs ~0.2 ms here against ~0.7 ms through the built-in fetch, and the gateway makes one
 * per model call. It does what the gateway asks of fetch and no more: a method, headers, a body
 * of bytes, an abort signal, no redirects followed, the answer streamed (decoded as fetch
 * decodes it).
 */
export const createHttpFetch = (): typeof fetch => {
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets: 256 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
  }
  const httpFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new TypeError(`unsupported protocol ${url.protocol}`))
        return
      }
      const signal = init.signal
      if (signal?.aborted) {
        reject(signal.reason ?? new Error('aborted'))
        return
      }
      const body = init.body
      if (body !== undefined && body !== null && !(body instanceof Uint8Array)) {
        reject(new TypeError('httpFetch sends bodies of bytes only'))
        return
      }
      const headers: Record<string, string> = {}
      new Headers(init.headers).forEach((value, name) => (headers[name] = value))
      if (body) headers['content-length'] = String(body.byteLength)
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const req = send(url, { method: init.method ?? 'GET', headers, agent: agents[url.protocol] })
      const onAbort = () => req.destroy(signal?.reason ?? new Error('aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      req.once('error', (err) => {
        signal?.removeEventListener('abort', onAbort)
        reject(err)
      })
      req.once('response', (res) => {
        res.once('close', () => signal?.removeEventListener('abort', onAbort))
        const status = res.statusCode ?? 502
        const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase()
        const decoder = DECODERS[encoding]?.()
        if (NO_BODY.has(status) || init.method === 'HEAD') {
          res.resume()
          resolve(new Response(null, { status, headers: headersOf(res, false) }))
          return
        }
        const stream: Readable = decoder ? res.pipe(decoder) : res
        // A broken answer (cut off, bad compression) errors the body, never the process.
        if (decoder) res.once('error', (err) => decoder.destroy(err))
        resolve(
          new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, {
            status,
            statusText: res.statusMessage ?? '',
            headers: headersOf(res, decoder !== undefined),
          }),
        )
      })
      req.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined)
    })
  return httpFetch as typeof fetch
}
