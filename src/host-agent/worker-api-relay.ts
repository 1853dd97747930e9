import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Duplex } from 'node:stream'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ErrorCode } from '../core/error-codes.ts'
import { httpStatusOf } from '../core/http-status.ts'
import { noopLogger, type Logger } from '../core/logger.ts'
import type { WorkerApiSockets } from '../docker/docker-runtime.ts'
import { listenInSocketDir } from '../docker/socket-dir.ts'

/** Where relay sockets live when HOST_AGENT_WORKER_SOCKET_DIR is unset: one directory per agent. */
export const defaultRelayDir = (agentName: string) =>
  join(homedir(), '.workers-spawner', 'relays', agentName)

// Headers of one connection, not of the request: never passed on.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

const endToEnd = (headers: IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)))

const refuse = (res: ServerResponse, code: ErrorCode, message: string) => {
  res.writeHead(httpStatusOf(code), { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { code, message } }))
}

/** `Bearer` and a token shaped like a worker's (a JWT: three base64url parts). */
const WORKER_BEARER = /^Bearer\s+[\w-]+\.[\w-]+\.[\w-]+\s*$/i

/** A worker's model credential (see WorkerKeys), as the model gateway takes it. */
const MODEL_CREDENTIAL = /^(?:Bearer\s+)?wsk_w-[0-9a-f]{16}_[0-9a-f]{64}\s*$/i

/**
 * A model call of a worker: a `/model/…` path with a worker's model credential where the CLIs
 * put their key. The core's gateway checks the credential itself, as it checks tokens.
 */
const modelCall = (req: IncomingMessage) => {
  const url = req.url ?? ''
  const parsed = new URL(url, 'http://relay')
  // Only a path that is what it says: `/model/../v1/…` (or its encoded forms) would reach the
  // core's other routes once the core normalizes it.
  if (!parsed.pathname.startsWith('/model/') || url.split('?')[0] !== parsed.pathname) return false
  const { authorization, 'x-api-key': apiKey, 'x-goog-api-key': googKey } = req.headers
  const key = parsed.searchParams.get('key')
  return [authorization, apiKey, googKey, key].some(
    (v) => typeof v === 'string' && MODEL_CREDENTIAL.test(v),
  )
}

/**
 * Sends each request on to `upstream` (origin and path prefix fixed; only the path and query
 * come from the worker) and streams the answer back. It adds nothing: no credential, no
 * header but Host; the core checks the worker's own token on every call. A call without a
 * worker token is refused here and never sent: at the core's URL a call without a token may be
 * an operator's, and only workers use these sockets.
 */
const relayTo = (upstream: URL, logger: Logger) => {
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest
  const prefix = upstream.pathname.replace(/\/$/, '')
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/'))
      return refuse(res, 'bad_request', 'request target must be a path')
    if (!WORKER_BEARER.test(req.headers.authorization ?? '') && !modelCall(req)) {
      // Unread, the body would hold the connection; the answer does not depend on it.
      req.resume()
      return refuse(
        res,
        'worker_token_required',
        'missing Authorization: Bearer <worker token> ($ORCHESTRATOR_TOKEN)',
      )
    }
    const out = send(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${prefix}${req.url}`,
        headers: { ...endToEnd(req.headers), host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers))
        // Event streams must reach the worker as they come.
        res.flushHeaders()
        answer.pipe(res)
        answer.once('error', () => res.destroy())
      },
    )
    out.once('error', (err) => {
      logger.warn('worker API relay: the service is unreachable', {
        upstream: upstream.origin,
        error: err.message,
      })
      if (res.headersSent) res.destroy()
      else refuse(res, 'worker_api_unreachable', `the service is unreachable: ${err.message}`)
    })
    // A worker that hangs up (e.g. an interrupted event stream) ends the call upstream too.
    res.once('close', () => {
      if (!res.writableFinished) out.destroy()
    })
    req.pipe(out)
  }
}

/**
 * The worker API sockets of a host agent. A core without a foot on this host names its
 * worker API in each isolated spec (`workerApi`, its ORCHESTRATOR_URL); for each such URL the
 * agent serves a socket `<dir>/<hash of the URL>/api.sock` that the containers mount, and
 * relays every HTTP request on it to that URL. Which URLs it relays is kept beside, so a
 * restarted agent serves them again for the containers that outlived it.
 *
 * @example
 * const relays = new WorkerApiRelays(defaultRelayDir(name), logger)
 * await relays.restore()
 * const runtime = new DockerRuntime({ docker, workerApi: relays })
 */
export class WorkerApiRelays implements WorkerApiSockets {
  readonly #started = new Map<string, Promise<string>>()
  readonly #servers: Server[] = []
  readonly #logger: Logger

  constructor(
    readonly dir: string,
    logger: Logger = noopLogger,
  ) {
    this.#logger = logger
  }

  dirFor(upstream: string): Promise<string> {
    const url = new URL(upstream)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new Error(`worker API ${upstream}: not an http(s) URL`))
    }
    const key = url.href
    let started = this.#started.get(key)
    if (!started) {
      started = this.#start(url)
      this.#started.set(key, started)
      // A failed start is tried again at the next create.
      started.catch(() => this.#started.delete(key))
    }
    return started
  }

  async #start(upstream: URL): Promise<string> {
    const id = createHash('sha256').update(upstream.href).digest('hex').slice(0, 16)
    const socketDir = join(this.dir, id)
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    await writeFile(join(this.dir, `${id}.url`), upstream.href, { mode: 0o600 })
    const server = createServer(relayTo(upstream, this.#logger))
    // The egress proxy lives in the core's own listener only: a tunnel asked for here is refused
    // at once, saying so, rather than left to time out.
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n' +
          'workers-spawner: no egress proxy for workers on host agents; use network "none" or "all"\n',
      )
    })
    const socket = await listenInSocketDir(server, socketDir)
    this.#servers.push(server)
    this.#logger.info('relaying the worker API', { socket, upstream: upstream.origin })
    return socketDir
  }

  /** Serves again every URL relayed before, so containers from before a restart keep their way. */
  async restore(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    for (const name of names.filter((n) => n.endsWith('.url'))) {
      const upstream = (await readFile(join(this.dir, name), 'utf8')).trim()
      await this.dirFor(upstream).catch((err: unknown) =>
        this.#logger.warn('worker API relay not restored', {
          record: join(this.dir, name),
          error: err instanceof Error ? err.message : String(err),
        }),
      )
    }
  }

  async close(): Promise<void> {
    const servers = this.#servers.splice(0)
    this.#started.clear()
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve())
            server.closeAllConnections()
          }),
      ),
    )
  }
}
