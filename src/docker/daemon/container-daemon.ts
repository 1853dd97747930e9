import { timingSafeEqual } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Logger } from '../../core/logger.ts'
import { answers } from '../socket-dir.ts'
import { DaemonConnection } from './daemon-connection.ts'
import { FRAME, FrameDecoder, FrameError, jsonFrame, parseJson, type Frame } from './frames.ts'

/** The socket a container's daemon dials, in its host directory. */
export const DAEMON_SOCKET = 'd.sock'

/** Protocol versions this runtime speaks. */
export const PROTOCOL_VERSIONS: readonly number[] = [1]

/** Bounds of one container's listener. */
export interface ListenerLimits {
  /** Connections at once, authenticated or not (the daemon's own cap is 256). */
  maxConnections: number
  /** Connections whose HELLO has not come yet. */
  maxPending: number
  /** How long a new connection has to send its HELLO. */
  helloTimeoutMs: number
  /**
   * Idle connections kept; one more given back or dialed in is closed. Each is a descriptor of
   * this process, and a daemon (the agent's, say) may dial as many as it likes; the real one
   * keeps two ahead and dials more as requests take them.
   */
  maxIdle: number
  /** Bytes a HELLO may have: a connection sending more before it is refused at once. */
  maxHelloBytes: number
}

export const DEFAULT_LISTENER_LIMITS: Readonly<ListenerLimits> = {
  maxConnections: 256,
  maxPending: 16,
  helloTimeoutMs: 5000,
  maxIdle: 8,
  maxHelloBytes: 16 * 1024,
}

/** Least time between two logs of refused HELLOs of one container. */
const REFUSAL_LOG_EVERY_MS = 60_000

/** What a daemon said, cut to a length fit for a log line. */
const cut = (text: string): string => (text.length > 100 ? `${text.slice(0, 100)}…` : text)

interface Waiter {
  resolve(conn: DaemonConnection | undefined): void
  timer: NodeJS.Timeout
}

/**
 * The runtime's end of one container's daemon: the listener on `<dir>/d.sock`, the HELLO
 * check, and the pool of idle connections with the requests waiting for one. A connection
 * that misbehaves is closed, never reused; the daemon dials new ones by itself.
 */
export class ContainerDaemon {
  readonly #server: Server
  readonly #idle: DaemonConnection[] = []
  readonly #live = new Set<DaemonConnection>()
  readonly #waiters: Waiter[] = []
  readonly #events = new EventEmitter()
  /** Connections whose HELLO has not come yet: closed with the listener, not left to time out. */
  readonly #pending = new Set<Socket>()
  #closed = false
  #refusalLoggedAt: number | undefined
  #refusalsUnlogged = 0
  /** When the listener started (performance.now()). */
  readonly since = performance.now()
  /** Whether a daemon ever authenticated here. */
  connectedOnce = false
  /** HELLOs refused (a wrong secret or version). */
  refused = 0
  /** When the last connection went (performance.now()), once a daemon had connected. */
  lostAt: number | undefined

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly secret: string,
    readonly logger: Logger,
    readonly limits: ListenerLimits = DEFAULT_LISTENER_LIMITS,
  ) {
    this.#server = createServer((socket) => this.#accept(socket))
    // An accept that fails once listening (no descriptors left) is logged: a listener whose
    // error nobody hears would bring the whole process down.
    this.#server.on('error', (err) => {
      if (this.#server.listening) {
        this.logger.warn('worker daemon listener error', { name, reason: String(err) })
      }
    })
    this.#events.setMaxListeners(0)
  }

  /** Path of the socket. */
  get socketPath(): string {
    return join(this.dir, DAEMON_SOCKET)
  }

  /** Authenticated connections open (idle or carrying a request). */
  get live(): number {
    return this.#live.size
  }

  /**
   * Makes the directory (0755) and listens on its socket (0666). A socket left by a dead
   * process is replaced; one a live process answers on (another instance on this host) is
   * left alone: resolves false then.
   */
  async listen(): Promise<boolean> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 })
    const st = await lstat(this.dir)
    if (!st.isDirectory() || st.uid !== process.getuid?.()) {
      throw new Error(`${this.dir}: not a directory of this user`)
    }
    await chmod(this.dir, 0o755)
    const existing = await lstat(this.socketPath).catch(() => undefined)
    if (existing) {
      if (existing.isSocket() && (await answers(this.socketPath))) return false
      await unlink(this.socketPath)
    }
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.socketPath, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    await chmod(this.socketPath, 0o666)
    return true
  }

  /**
   * An idle connection, waiting up to `waitMs` for one; undefined when none came. The caller
   * gives it back with `release`.
   */
  acquire(waitMs: number): Promise<DaemonConnection | undefined> {
    while (this.#idle.length > 0) {
      const conn = this.#idle.pop()!
      if (conn.alive) return Promise.resolve(conn)
    }
    if (waitMs <= 0 || this.#closed) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          resolve(undefined)
        }, waitMs),
      }
      this.#waiters.push(waiter)
    })
  }

  /** Gives a connection back after its request: idle again when it is clean, else closed. */
  release(conn: DaemonConnection): void {
    if (!conn.alive || conn.busy) return conn.close('released while not clean')
    this.#offer(conn)
  }

  /** Resolves once a daemon has authenticated here (at once when one has). */
  whenConnected(): Promise<void> {
    if (this.connectedOnce && this.#live.size > 0) return Promise.resolve()
    return new Promise((resolve) => this.#events.once('connected', resolve))
  }

  /** Resolves once no daemon connection is left (at once when none is). */
  whenDisconnected(): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#events.once('lost', resolve))
  }

  /** Whether the listener was closed. */
  get closed(): boolean {
    return this.#closed
  }

  /** Resolves at the next refused HELLO. */
  whenRefused(): Promise<void> {
    return new Promise((resolve) => this.#events.once('refused', resolve))
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      w.resolve(undefined)
    }
    for (const socket of this.#pending) socket.destroy()
    for (const conn of [...this.#live]) conn.close('listener closed')
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /**
   * Logs a refused HELLO: the first, then at most one every REFUSAL_LOG_EVERY_MS with how many
   * came since (whatever dials the socket may do so in a loop, and must not flood the log).
   */
  #logRefusal(why: string): void {
    const now = performance.now()
    if (this.#refusalLoggedAt !== undefined && now - this.#refusalLoggedAt < REFUSAL_LOG_EVERY_MS) {
      this.#refusalsUnlogged++
      return
    }
    const fields = { container: this.name, reason: cut(why), refusedSince: this.#refusalsUnlogged }
    this.#refusalLoggedAt = now
    this.#refusalsUnlogged = 0
    this.logger.warn('worker daemon refused', fields)
  }

  #offer(conn: DaemonConnection): void {
    const waiter = this.#waiters.shift()
    if (waiter) {
      clearTimeout(waiter.timer)
      waiter.resolve(conn)
    } else if (this.#idle.length >= this.limits.maxIdle) {
      conn.close('more idle connections than kept')
    } else {
      this.#idle.push(conn)
    }
  }

  #accept(socket: Socket): void {
    const { maxConnections, maxPending, helloTimeoutMs, maxHelloBytes } = this.limits
    if (
      this.#closed ||
      this.#pending.size >= maxPending ||
      this.#live.size + this.#pending.size >= maxConnections
    ) {
      socket.destroy()
      return
    }
    this.#pending.add(socket)
    const decoder = new FrameDecoder()
    let done = false
    let received = 0
    const finish = (frame: Frame | undefined, why?: string) => {
      if (done) return
      done = true
      this.#pending.delete(socket)
      clearTimeout(timer)
      socket.off('data', onData)
      if (!frame) {
        socket.destroy()
        if (why)
          this.logger.debug('worker daemon connection refused', {
            container: this.name,
            reason: why,
          })
        return
      }
      this.#hello(socket, decoder, frame)
    }
    const onData = (chunk: Buffer) => {
      // A frame is buffered whole before it is read: a HELLO announced large is not waited for.
      received += chunk.length
      if (received > maxHelloBytes + 5) return finish(undefined, 'a HELLO past its size')
      let frames: Frame[]
      try {
        frames = decoder.push(chunk)
      } catch (err) {
        return finish(undefined, (err as Error).message)
      }
      if (frames.length === 0) return
      if (frames.length > 1) return finish(undefined, 'frames before WELCOME')
      finish(frames[0])
    }
    const timer = setTimeout(() => finish(undefined, 'no HELLO in time'), helloTimeoutMs)
    socket.on('data', onData)
    socket.on('error', () => undefined)
    socket.once('close', () => finish(undefined))
  }

  #hello(socket: Socket, decoder: FrameDecoder, frame: Frame): void {
    const refuse = (why: string) => {
      socket.destroy()
      this.refused++
      this.#logRefusal(why)
      this.#events.emit('refused')
    }
    if (frame.type !== FRAME.HELLO) return refuse(`frame ${frame.type} instead of HELLO`)
    let hello: Record<string, unknown>
    try {
      hello = parseJson(frame.payload)
    } catch (err) {
      return refuse((err as FrameError).message)
    }
    if (typeof hello.v !== 'number' || !PROTOCOL_VERSIONS.includes(hello.v)) {
      return refuse(`protocol version ${String(hello.v)}`)
    }
    if (typeof hello.secret !== 'string' || !sameSecret(hello.secret, this.secret)) {
      return refuse('wrong secret')
    }
    if (this.#closed || socket.destroyed) return void socket.destroy()
    socket.write(jsonFrame(FRAME.WELCOME, { v: hello.v }))
    const pid = typeof hello.pid === 'number' && Number.isInteger(hello.pid) ? hello.pid : undefined
    const conn = new DaemonConnection(
      socket,
      decoder,
      (gone) => {
        this.#live.delete(gone)
        const at = this.#idle.indexOf(gone)
        if (at >= 0) this.#idle.splice(at, 1)
        if (this.#live.size === 0) {
          this.lostAt = performance.now()
          this.#events.emit('lost')
        }
      },
      pid,
    )
    this.#live.add(conn)
    if (!this.connectedOnce) {
      this.logger.debug('worker daemon connected', {
        container: this.name,
        pid,
        version: cut(String(hello.version)),
      })
    }
    this.connectedOnce = true
    this.#offer(conn)
    this.#events.emit('connected')
  }
}

/** Compares two secrets in constant time (for equal lengths; lengths are not secret). */
const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given, 'utf8')
  const b = Buffer.from(expected, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
