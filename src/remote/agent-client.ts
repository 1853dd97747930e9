import { SpawnerError, UnavailableError } from '../core/errors.ts'
import { noopLogger, type Logger } from '../core/logger.ts'
import type { StreamLine } from './wire.ts'
import { errorFromWire } from './wire-errors.ts'

/** Options of `AgentClient` (and of `RemoteRuntime`). */
export interface AgentClientOptions {
  /** Base URL of the host agent, e.g. `http://docker-1.internal:8081`. */
  url: string
  /** `HOST_AGENT_TOKEN`. */
  token?: string
  /** How messages and the multi-host runtime name this agent (default: the URL's host). */
  name?: string
  /** A fetch to use instead of the global one (tests pass `app.request`). */
  fetch?: (input: string, init: RequestInit) => Promise<Response> | Response
  /** Longest a plain call may take, body included (default 60 s). */
  timeoutMs?: number
  /** Longest a streamed answer may stay silent; the agent sends heartbeats (default 60 s). */
  idleTimeoutMs?: number
  logger?: Logger
}

/** One request to the agent. */
export interface AgentRequest {
  query?: Record<string, string | number | string[] | undefined>
  json?: unknown
  body?: Uint8Array
  /** Safe to send twice: tried again once when the connection fails (a stale keep-alive). */
  idempotent?: boolean
  signal?: AbortSignal
}

const describeFailure = (err: unknown): string => {
  const e = err as { cause?: { code?: string; message?: string }; message?: string }
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)
}

const isAbort = (err: unknown) => (err as { name?: string })?.name === 'AbortError'

/**
 * Fetch-only HTTP client of one host agent: adds the token, turns error answers back into
 * SpawnerErrors and an unreachable or silent agent into an UnavailableError (503). Uses no
 * Node.js API, so it runs in serverless runtimes too.
 */
export class AgentClient {
  readonly url: string
  readonly name: string
  readonly #opts: AgentClientOptions
  readonly #fetch: (input: string, init: RequestInit) => Promise<Response> | Response
  readonly #logger: Logger

  constructor(opts: AgentClientOptions) {
    this.url = opts.url.replace(/\/+$/, '')
    this.name = opts.name ?? new URL(this.url).host
    this.#opts = opts
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init))
    this.#logger = opts.logger ?? noopLogger
  }

  /** Sends a call and reads its answer with `read`, all within `timeoutMs`. */
  async call<T>(
    method: string,
    path: string,
    req: AgentRequest,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const ms = this.#opts.timeoutMs ?? 60_000
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(), ms)
    try {
      const res = await this.send(method, path, { ...req, signal: timeout.signal })
      return await read(res)
    } catch (err) {
      if (timeout.signal.aborted) {
        throw new UnavailableError(
          `host agent ${this.name} (${this.url}) did not answer in ${ms} ms`,
          'unavailable',
          { cause: err },
        )
      }
      throw this.#lost(err)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends a request and returns the successful answer unread; errors are thrown mapped. */
  async send(method: string, path: string, req: AgentRequest): Promise<Response> {
    const started = Date.now()
    const fields = { agent: this.name, method, path }
    this.#logger.debug('host agent call', fields)
    let res: Response
    try {
      res = await this.#fetch(this.#href(path, req.query), this.#init(method, req))
    } catch (err) {
      if (isAbort(err) || !req.idempotent) throw this.#unreachable(err)
      this.#logger.debug('host agent call retried', { ...fields, reason: describeFailure(err) })
      try {
        res = await this.#fetch(this.#href(path, req.query), this.#init(method, req))
      } catch (again) {
        throw this.#unreachable(again)
      }
    }
    this.#logger.debug('host agent call done', {
      ...fields,
      status: res.status,
      ms: Date.now() - started,
    })
    if (res.ok) return res
    const text = await res.text().catch(() => '')
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    throw errorFromWire(res.status, body, this.name)
  }

  /**
   * The lines of a streamed (NDJSON) answer, heartbeats left out. Silence beyond
   * `idleTimeoutMs` or a broken connection ends it with an UnavailableError.
   */
  async *lines(res: Response): AsyncGenerator<StreamLine> {
    const idleMs = this.#opts.idleTimeoutMs ?? 60_000
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    let scanned = 0
    try {
      for (;;) {
        let timer: ReturnType<typeof setTimeout> | undefined
        const idle = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new UnavailableError(`host agent ${this.name} went silent for ${idleMs} ms`)),
            idleMs,
          )
        })
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await Promise.race([reader.read(), idle])
        } catch (err) {
          throw this.#lost(err)
        } finally {
          clearTimeout(timer)
        }
        if (chunk.done) return
        buffer += decoder.decode(chunk.value, { stream: true })
        // Only the new text is searched: one long line (a big result) stays linear.
        let nl = buffer.indexOf('\n', scanned)
        while (nl >= 0) {
          const text = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          nl = buffer.indexOf('\n')
          if (!text.trim()) continue
          const line = this.#parse(text)
          if (!('heartbeat' in line)) yield line
        }
        scanned = buffer.length
      }
    } finally {
      reader.cancel().catch(() => undefined)
    }
  }

  /** Turns a stream's `{ error, status }` line back into the error. */
  errorOf(line: { error: unknown; status: number }): SpawnerError {
    return errorFromWire(line.status, { error: line.error }, this.name)
  }

  #parse(text: string): StreamLine {
    try {
      return JSON.parse(text) as StreamLine
    } catch {
      throw new SpawnerError('host_agent_error', `host agent ${this.name} sent a broken line`)
    }
  }

  #href(path: string, query: AgentRequest['query'] = {}): string {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v))
    }
    const search = params.toString()
    return `${this.url}${path}${search ? `?${search}` : ''}`
  }

  #init(method: string, req: AgentRequest): RequestInit {
    const headers: Record<string, string> = {}
    if (this.#opts.token) headers.authorization = `Bearer ${this.#opts.token}`
    let body: BodyInit | undefined
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(req.json)
    } else if (req.body !== undefined) {
      headers['content-type'] = 'application/octet-stream'
      body = req.body as Uint8Array<ArrayBuffer>
    }
    return {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    }
  }

  #unreachable(err: unknown): unknown {
    if (isAbort(err) || err instanceof SpawnerError) return err
    return new UnavailableError(
      `host agent ${this.name} not reachable at ${this.url} (${describeFailure(err)})`,
      'unavailable',
      { cause: err },
    )
  }

  /** A failure while an answer was read: the connection broke (or the error is already ours). */
  #lost(err: unknown): unknown {
    if (isAbort(err) || err instanceof SpawnerError) return err
    return new UnavailableError(
      `connection to host agent ${this.name} lost (${describeFailure(err)})`,
      'unavailable',
      { cause: err },
    )
  }
}
