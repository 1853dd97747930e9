import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { Duplex, Readable } from 'node:stream'
import { BadRequestError, SpawnerError, UnavailableError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import { canPipe, type ContainerRuntime, type PipingRuntime } from '../core/runtime.ts'
import type { PreviewForward, PreviewTarget } from '../http/preview.ts'

/** What bounds a preview connection. */
export interface PreviewLimits {
  /** Until the worker's server has sent its response headers (PREVIEW_TIMEOUT_MS). */
  headersTimeoutMs: number
  /** Connections open at once across all workers (PREVIEW_MAX_CONNECTIONS). */
  maxConnections: number
  /**
   * Connections open at once into one worker (default: a quarter of `maxConnections`), so
   * that a worker whose server holds every request open cannot take all of them.
   */
  maxPerWorker?: number
}

/** The share of the connections one worker may hold when `maxPerWorker` is not set. */
export const perWorkerLimit = (limits: PreviewLimits): number =>
  limits.maxPerWorker ?? Math.max(1, Math.ceil(limits.maxConnections / 4))

/**
 * Counts open preview connections, in all and by worker. `take` throws `too_many_previews`
 * past either limit, or returns the release (idempotent).
 */
export class PreviewSlots {
  #open = 0
  readonly #byWorker = new Map<string, number>()

  constructor(
    private readonly limits: PreviewLimits,
    private readonly what: string,
  ) {}

  take(workerId: string): () => void {
    const mine = this.#byWorker.get(workerId) ?? 0
    if (this.#open >= this.limits.maxConnections) {
      throw new SpawnerError(
        'too_many_previews',
        `${this.#open} preview ${this.what} are open, as many as PREVIEW_MAX_CONNECTIONS allows`,
      )
    }
    const perWorker = perWorkerLimit(this.limits)
    if (mine >= perWorker) {
      throw new SpawnerError(
        'too_many_previews',
        `worker '${workerId}' has ${mine} preview ${this.what} open, its share of PREVIEW_MAX_CONNECTIONS`,
      )
    }
    this.#open++
    this.#byWorker.set(workerId, mine + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#open--
      const left = (this.#byWorker.get(workerId) ?? 1) - 1
      if (left > 0) this.#byWorker.set(workerId, left)
      else this.#byWorker.delete(workerId)
    }
  }
}

/** The user the relay runs as: the worker's own, never root. */
export const WORKER_USER = '1000:1000'

/**
 * The relay inside the worker: socat between its stdin/stdout and the port on loopback, over
 * IPv4 first, then IPv6 (dev servers that bind `localhost` may get `::1` only).
 */
export const relayCommand = (port: number): string[] => [
  '/bin/sh',
  '-c',
  '/usr/bin/socat - "TCP4:127.0.0.1:$0" || exec /usr/bin/socat - "TCP6:[::1]:$0"',
  String(port),
]

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never forwarded. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** A response status that carries no body. */
const bodiless = (status: number) => status === 204 || status === 304 || status < 200

/**
 * Forwards one request to `127.0.0.1:<port>` inside a container: one exec of `relayCommand`
 * per request, its stdin and stdout carrying the HTTP/1.1 connection (`Connection: close`).
 * Bodies stream both ways, with back-pressure; nothing is held whole. Undefined when the
 * runtime cannot hold a stream both ways (a host agent).
 */
export const previewForwarder = (
  runtime: ContainerRuntime,
  limits: PreviewLimits,
  logger: Logger = noopLogger,
): PreviewForward | undefined => {
  if (!canPipe(runtime)) return undefined
  const slots = new PreviewSlots(limits, 'connections')
  return async (target, req) => {
    const release = slots.take(target.workerId)
    try {
      return await forwardOnce(runtime, target, req, limits, logger, release)
    } catch (err) {
      release()
      throw err
    }
  }
}

const forwardOnce = async (
  runtime: PipingRuntime,
  target: PreviewTarget,
  req: Request,
  limits: PreviewLimits,
  logger: Logger,
  release: () => void,
): Promise<Response> => {
  const pipe = await runtime.pipe(target.containerId, {
    argv: relayCommand(target.port),
    user: WORKER_USER,
  })
  const socket = Duplex.fromWeb({
    readable: pipe.readable as never,
    writable: pipe.writable as never,
  })
  socket.on('error', () => undefined)
  const done = () => {
    pipe.close()
    release()
  }
  let upstream: ClientRequest
  try {
    upstream = httpRequest({
      createConnection: () => socket as never,
      method: req.method,
      path: target.path,
      headers: requestHeaders(req.headers, target),
    })
  } catch (err) {
    // Node refuses what it would not put on the wire (a header value it cannot send).
    done()
    throw new BadRequestError(`cannot forward this request: ${(err as Error).message}`)
  }
  const onAbort = () => upstream.destroy(new Error('the client went away'))
  req.signal.addEventListener('abort', onAbort, { once: true })

  let timer: NodeJS.Timeout | undefined
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    upstream.once('response', resolve)
    upstream.once('error', reject)
    timer = setTimeout(
      () => reject(new UnavailableError(noAnswer(target, limits), 'preview_timeout')),
      limits.headersTimeoutMs,
    )
  })
  if (req.body) {
    Readable.fromWeb(req.body as never)
      .on('error', (err) => upstream.destroy(err))
      .pipe(upstream)
  } else {
    upstream.end()
  }
  let res: IncomingMessage
  try {
    res = await answered
  } catch (err) {
    clearTimeout(timer)
    req.signal.removeEventListener('abort', onAbort)
    upstream.destroy()
    if (err instanceof SpawnerError) {
      done()
      throw err
    }
    // The relay has ended (or ends now that the socket is gone): its stderr says why.
    pipe.close()
    const stderr = await pipe.stderr
    release()
    logger.debug('preview failed', { workerId: target.workerId, port: target.port, stderr })
    if (/refused|cannot assign|unreachable/i.test(stderr)) {
      throw new SpawnerError(
        'port_not_listening',
        `nothing listens on port ${target.port} in worker '${target.workerId}' (127.0.0.1 or ::1)`,
      )
    }
    throw new SpawnerError(
      'preview_upstream_error',
      `the server on port ${target.port} in worker '${target.workerId}' broke off: ${(err as Error).message}`,
    )
  }
  clearTimeout(timer)
  res.once('close', () => {
    req.signal.removeEventListener('abort', onAbort)
    done()
  })
  const headers = new Headers()
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const status = res.statusCode ?? 502
  if (bodiless(status) || req.method === 'HEAD') {
    res.resume()
    return new Response(null, { status, headers })
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers })
}

const noAnswer = (target: PreviewTarget, limits: PreviewLimits) =>
  `the server on port ${target.port} in worker '${target.workerId}' sent no response headers ` +
  `within ${limits.headersTimeoutMs} ms (PREVIEW_TIMEOUT_MS)`

/**
 * The headers the worker's server gets: the client's, less hop-by-hop ones, with `Host` its
 * own loopback address (dev servers check it) and one connection per request.
 */
const requestHeaders = (incoming: Headers, target: PreviewTarget): Record<string, string> => {
  const out: Record<string, string> = {}
  incoming.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) out[name] = value
  })
  out.host = `localhost:${target.port}`
  out.connection = 'close'
  return out
}
