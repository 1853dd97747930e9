import { promises as dns } from 'node:dns'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { allows, type Cidr } from '../core/egress.ts'
import { dial, type DialPolicy, type Refusal, staticHosts } from './egress-dial.ts'

/** A worker as the proxy knows it: who it is and where it may connect. */
export interface EgressWorker {
  workerId: string
  allow: string[]
}

/** An `egress_denied` occurrence; `reason` is what the client read after `host:port`. */
export interface EgressDenied {
  workerId: string
  host: string
  port: number
  reason: string
  code: NonNullable<Refusal['code']>
}

/** What the egress proxy needs from the service. */
export interface EgressProxyOptions {
  /** The worker behind a Proxy-Authorization (Basic; the password is the worker's credential, the user name is ignored). undefined → 407. */
  identify(credential: string): EgressWorker | undefined | Promise<EgressWorker | undefined>
  /** A refusal by policy: not allowed, a private address, too many connections. */
  onDenied?(e: EgressDenied): void
  /** A connection made: a CONNECT tunnel opened, or a plain HTTP request's upstream connected. */
  onAllowed?(e: { workerId: string; host: string; port: number }): void
  /** Static name → IP entries the proxy resolves first (operator setting EGRESS_HOSTS). */
  hosts?: Record<string, string>
  /** Private addresses a destination may still resolve to (operator CIDRs); all others private are refused. */
  privateAllow?: Cidr[]
  /** Default: `dns.promises.lookup(host, { all: true })`. */
  resolve?(host: string): Promise<string[]>
  /** Resolving and connecting together, in ms (default 10 s). */
  connectTimeoutMs?: number
  /** Open tunnels and forwarded requests per worker (default 64); more → 429. */
  maxTunnelsPerWorker?: number
  /** A connection with no bytes either way this long is closed (default 10 min). */
  idleTimeoutMs?: number
}

/** An upstream connection the gate let through; `release` frees the worker's slot. */
export interface Opened {
  socket: Socket
  release(): void
}

/** The one-line text of a refusal, as the client reads it. */
export const refusalText = (r: Refusal, target?: string) =>
  `workers-spawner egress proxy: ${target ? `${target} ` : ''}${r.reason}\n`

/** The password of a `Basic` credential; the user name is ignored. */
const credentialOf = (header: string | undefined): string | undefined => {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined
}

/** Calls an observer; one that throws must not take a worker's connection down with it. */
const notify = <E>(fn: ((e: E) => void) | undefined, e: E) => {
  try {
    fn?.(e)
  } catch {}
}

/**
 * The policy both proxy forms share: who is asking, whether the worker may reach
 * `host:port`, how many connections it holds, and the connection itself (`dial`). It tracks
 * every socket it is given until that closes, so `close` can end them all.
 */
export class EgressGate {
  readonly idleMs: number
  readonly #opts: EgressProxyOptions
  readonly #policy: DialPolicy
  readonly #max: number
  readonly #counts = new Map<string, number>()
  readonly #live = new Set<Duplex>()
  #closed = false

  constructor(opts: EgressProxyOptions) {
    this.#opts = opts
    this.#policy = {
      hosts: staticHosts(opts.hosts),
      privateAllow: opts.privateAllow ?? [],
      resolve:
        opts.resolve ??
        (async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address)),
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    }
    this.#max = opts.maxTunnelsPerWorker ?? 64
    this.idleMs = opts.idleTimeoutMs ?? 600_000
  }

  /** The worker behind a Proxy-Authorization header, or the refusal (407, or 503). */
  async authenticate(header: string | undefined): Promise<EgressWorker | Refusal> {
    const credential = credentialOf(header)
    const unknown = { status: 407, reason: 'a worker credential is required (Proxy-Authorization)' }
    if (credential === undefined) return unknown
    try {
      return (await this.#opts.identify(credential)) ?? unknown
    } catch {
      return { status: 503, reason: 'the credential could not be checked; try again' }
    }
  }

  /** Admits `worker` to `host:port` (canonical) and connects, or says why not. */
  async open(worker: EgressWorker, host: string, port: number): Promise<Opened | Refusal> {
    const { workerId } = worker
    const denied = (r: Refusal & Pick<EgressDenied, 'code'>) => {
      notify(this.#opts.onDenied, { workerId, host, port, reason: r.reason, code: r.code })
      return r
    }
    if (!allows(worker.allow, host, port)) {
      return denied({
        status: 403,
        code: 'not_allowed',
        reason: "is not in this worker's network allowlist (WorkerConfig.network.allow)",
      })
    }
    const count = this.#counts.get(workerId) ?? 0
    if (count >= this.#max) {
      return denied({
        status: 429,
        code: 'too_many_connections',
        reason: `is one connection too many: this worker has ${count} open through the proxy`,
      })
    }
    // The slot is taken before the lookup, so slow lookups count against the worker too.
    this.#counts.set(workerId, count + 1)
    let released = false
    const release = () => {
      if (released) return
      released = true
      const left = (this.#counts.get(workerId) ?? 1) - 1
      if (left > 0) this.#counts.set(workerId, left)
      else this.#counts.delete(workerId)
    }
    const socket = await dial(host, port, this.#policy)
    if ('status' in socket) {
      release()
      return socket.code ? denied({ ...socket, code: socket.code }) : socket
    }
    if (this.#closed) {
      socket.destroy()
      release()
      return { status: 502, reason: 'could not be reached (the proxy is closing)' }
    }
    this.track(socket)
    socket.once('close', release)
    notify(this.#opts.onAllowed, { workerId, host, port })
    return { socket, release }
  }

  /** Keeps `socket` until it closes, to end it on `close`. */
  track(socket: Duplex): void {
    if (this.#closed) return void socket.destroy()
    this.#live.add(socket)
    socket.once('close', () => this.#live.delete(socket))
  }

  /** Ends every tracked socket; later ones are ended as they come. */
  close(): void {
    this.#closed = true
    for (const socket of this.#live) socket.destroy()
    this.#live.clear()
  }
}
