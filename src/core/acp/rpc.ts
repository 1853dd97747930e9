/**
 * JSON-RPC 2.0 as ACP carries it on stdio: one message a line, requests both ways. The agent is
 * untrusted, so what it writes is read defensively: a line that is not a JSON object, an answer
 * to no question, or a line past `MAX_LINE_BYTES` is passed over, never a reason to fail.
 */
import { LineSplitter } from '../line-splitter.ts'

/** Longest line read from an agent (a big tool result); a longer one is passed over. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024

/** One message as it travels. */
export interface RpcMessage {
  jsonrpc: '2.0'
  id?: number | string
  method?: string
  params?: Record<string, unknown>
  result?: unknown
  error?: { code: number; message: string; data?: unknown }
}

/** An error the agent answered a request with. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(`${method}: ${message}${data === undefined ? '' : ` ${JSON.stringify(data)}`}`)
    this.name = this.constructor.name
  }
}

/** What the client answers a request of the agent with (or throws to refuse it). */
export type RequestHandler = (method: string, params: Record<string, unknown>) => Promise<unknown>

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The client's end of the connection, over any byte pipe: `write` sends a line, `push` takes
 * what the agent printed, `close` fails the questions still open (the agent went away).
 */
export class RpcLines {
  private nextId = 0
  private readonly lines = new LineSplitter(MAX_LINE_BYTES, (line) => this.line(line))
  private closed: Error | undefined
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }
  >()
  private readonly listeners = new Set<(method: string, params: Record<string, unknown>) => void>()

  constructor(
    private readonly write: (line: string) => void,
    private readonly onRequest: RequestHandler,
  ) {}

  /** Asks the agent; resolves with its result, rejects with an RpcError or when it goes away. */
  request(method: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed)
    const id = this.nextId++
    const answer = new Promise<unknown>((resolve, reject) =>
      this.pending.set(id, { resolve, reject, method }),
    )
    this.send({ jsonrpc: '2.0', id, method, params })
    return answer
  }

  /** Tells the agent something that has no answer (`session/cancel`). */
  notify(method: string, params: Record<string, unknown>): void {
    if (!this.closed) this.send({ jsonrpc: '2.0', method, params })
  }

  /** Called with each notification of the agent; returns the remover. */
  listen(fn: (method: string, params: Record<string, unknown>) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** A chunk of the agent's stdout. */
  push(chunk: string): void {
    this.lines.push(chunk)
  }

  /** The agent is gone: every open question fails with `why`, and later ones at once. */
  close(why: Error): void {
    this.closed ??= why
    for (const p of this.pending.values()) p.reject(why)
    this.pending.clear()
  }

  private send(m: RpcMessage) {
    this.write(`${JSON.stringify(m)}\n`)
  }

  private line(raw: string) {
    const text = raw.trim()
    if (!text.startsWith('{')) return
    let m: unknown
    try {
      m = JSON.parse(text)
    } catch {
      return
    }
    if (!isObject(m)) return
    const params = isObject(m.params) ? m.params : {}
    if (typeof m.method === 'string') {
      if (m.id === undefined || m.id === null) {
        for (const fn of this.listeners) fn(m.method, params)
      } else if (typeof m.id === 'number' || typeof m.id === 'string') {
        void this.answer(m.id, m.method, params)
      }
      return
    }
    if (typeof m.id !== 'number') return
    const p = this.pending.get(m.id)
    if (!p) return
    this.pending.delete(m.id)
    if (isObject(m.error)) {
      const e = m.error
      p.reject(
        new RpcError(
          p.method,
          typeof e.code === 'number' ? e.code : -32603,
          typeof e.message === 'string' ? e.message : 'error',
          e.data,
        ),
      )
    } else p.resolve(m.result)
  }

  private async answer(id: number | string, method: string, params: Record<string, unknown>) {
    try {
      const result = await this.onRequest(method, params)
      if (!this.closed) this.send({ jsonrpc: '2.0', id, result: result ?? null })
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      if (!this.closed) this.send({ jsonrpc: '2.0', id, error: { code: -32601, message } })
    }
  }
}
