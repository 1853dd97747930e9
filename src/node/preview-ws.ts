import { Duplex } from 'node:stream'
import { upgradeWebSocket } from '@hono/node-server'
import WebSocket from 'ws'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import { canPipe, type ContainerRuntime, type PipingRuntime } from '../core/runtime.ts'
import type { PreviewTarget, PreviewUpgrade } from '../http/preview.ts'
import {
  HOP_BY_HOP,
  PreviewSlots,
  relayCommand,
  WORKER_USER,
  type PreviewLimits,
} from './preview-forward.ts'

/** Handshake headers `ws` writes itself. */
const OWN = new Set([
  'host',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
])

/** A close code that may be sent on (1005, 1006 and 1015 only ever describe a close). */
const sendable = (code: number) =>
  [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014].includes(code) ||
  (code >= 3000 && code <= 4999)

/** A close reason within the 123 bytes a close frame holds. */
const reasonOf = (text: string) => Buffer.from(text).subarray(0, 120).toString()

/** What the browser's side of a relayed socket offers (Hono's WSContext, the parts used). */
interface ClientSide {
  readonly readyState: number
  close(code?: number, reason?: string): void
  raw?: unknown
}

/**
 * Bytes one side may have queued for the other before the relay stops reading the side that
 * sends: a worker's server (or its page) that floods a reader who is not reading waits, instead
 * of piling up in this process.
 */
export const RELAY_HIGH_WATER_BYTES = 1024 * 1024

/** The largest message relayed either way (the service's own WebSocket limit). */
export const RELAY_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/** The parts of a `ws` socket flow control needs. */
interface Flow {
  readonly bufferedAmount: number
  readonly isPaused: boolean
  pause(): void
  resume(): void
}

/**
 * Sends `data` on `to`; while `to` has more than RELAY_HIGH_WATER_BYTES queued, `from` is not
 * read, and it is read again once `to` has sent what it held.
 */
const sendHeld = (
  to: WebSocket,
  from: Flow | undefined,
  data: string | Buffer,
  binary: boolean,
  held: (on: boolean) => void,
) => {
  to.send(data, { binary }, () => {
    if (from?.isPaused && to.bufferedAmount <= RELAY_HIGH_WATER_BYTES) {
      from.resume()
      held(false)
    }
  })
  if (from && !from.isPaused && to.bufferedAmount > RELAY_HIGH_WATER_BYTES) {
    from.pause()
    held(true)
  }
}

const isFlow = (raw: unknown): raw is Flow =>
  typeof (raw as Partial<Flow> | undefined)?.pause === 'function' &&
  typeof (raw as Partial<Flow>).resume === 'function'

/** One relayed socket: the worker's side opens once the relay exec runs. */
export class Relay {
  #upstream: WebSocket | undefined
  #client: Flow | undefined
  #queue: (string | Buffer)[] = []
  #queuedBytes = 0
  #closed: { code: number; reason: string } | undefined
  #workerHeld = false

  constructor(
    private readonly runtime: PipingRuntime,
    private readonly target: PreviewTarget,
    private readonly protocols: string[],
    private readonly headers: Record<string, string>,
    private readonly limits: PreviewLimits,
    private readonly logger: Logger,
  ) {}

  async open(client: ClientSide) {
    const { target } = this
    const pipe = await this.runtime.pipe(target.containerId, {
      argv: relayCommand(target.port),
      user: WORKER_USER,
    })
    const socket = Duplex.fromWeb({
      readable: pipe.readable as never,
      writable: pipe.writable as never,
    })
    socket.on('error', () => undefined)
    const ws = new WebSocket(`ws://localhost:${target.port}${target.path}`, this.protocols, {
      createConnection: () => socket as never,
      headers: this.headers,
      handshakeTimeout: this.limits.headersTimeoutMs,
      maxPayload: RELAY_MAX_MESSAGE_BYTES,
    })
    this.#upstream = ws
    const raw = client.raw as WebSocket
    ws.on('open', () => {
      if (this.#closed) return ws.close(this.#closed.code, this.#closed.reason)
      for (const data of this.#queue.splice(0)) this.#toWorker(ws, data)
      this.#queuedBytes = 0
      if (this.#client?.isPaused && ws.bufferedAmount <= RELAY_HIGH_WATER_BYTES)
        this.#client.resume()
    })
    ws.on('message', (data, isBinary) => {
      if (raw.readyState !== WebSocket.OPEN) return
      sendHeld(raw, ws, data as Buffer, isBinary, (on) => (this.#workerHeld = on))
    })
    ws.on('close', (code, reason) => {
      pipe.close()
      if (client.readyState <= 1) client.close(sendable(code) ? code : 1000, reason.toString())
    })
    ws.on('error', (err) => {
      this.logger.debug('preview websocket failed', {
        workerId: target.workerId,
        port: target.port,
        error: err.message,
      })
      pipe.close()
      // 1014 (bad gateway): the server the preview stands for answered badly or not at all.
      if (client.readyState <= 1)
        client.close(1014, reasonOf(`port ${target.port}: ${err.message}`))
    })
  }

  /** Whether the worker's side is not being read, until the browser takes what is queued. */
  get backpressured(): boolean {
    return this.#workerHeld
  }

  /** The browser's socket (Hono's `raw`), so that a flood from the page can be held too. */
  attach(raw: unknown) {
    if (isFlow(raw)) this.#client = raw
  }

  send(data: string | ArrayBuffer) {
    const bytes = typeof data === 'string' ? data : Buffer.from(data)
    if (this.#upstream?.readyState === WebSocket.OPEN) this.#toWorker(this.#upstream, bytes)
    else if (!this.#closed) {
      // Until the worker's side opens, at most the high-water mark waits here.
      this.#queue.push(bytes)
      this.#queuedBytes += bytes.length
      if (this.#queuedBytes > RELAY_HIGH_WATER_BYTES && this.#client && !this.#client.isPaused)
        this.#client.pause()
    }
  }

  #toWorker(ws: WebSocket, data: string | Buffer) {
    sendHeld(ws, this.#client, data, typeof data !== 'string', () => undefined)
  }

  close(code: number, reason: string) {
    this.#closed = { code: sendable(code) ? code : 1000, reason }
    const ws = this.#upstream
    if (ws?.readyState === WebSocket.OPEN) ws.close(this.#closed.code, reason)
    else if (ws?.readyState === WebSocket.CONNECTING) ws.terminate()
  }
}

/**
 * Relays WebSockets into workers (dev servers' live reload): the browser's socket is accepted
 * here (Hono's `upgradeWebSocket`), a second one opens to the same path on the worker's port
 * through the relay exec (see `relayCommand`), and messages go both ways, text as text and
 * binary as binary, closes passed on; at most PREVIEW_MAX_CONNECTIONS at once, a quarter of them into one worker. Undefined when the runtime cannot hold a stream.
 */
export const previewUpgrader = (
  runtime: ContainerRuntime,
  limits: PreviewLimits,
  logger: Logger = noopLogger,
): PreviewUpgrade | undefined => {
  if (!canPipe(runtime)) return undefined
  const slots = new PreviewSlots(limits, 'sockets')
  return async (target, c, incoming) => {
    // Checked before the upgrade (an HTTP refusal), taken once the socket opens.
    slots.take(target.workerId)()
    const protocols = (incoming.get('sec-websocket-protocol') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
    const headers: Record<string, string> = {}
    incoming.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && !OWN.has(name)) headers[name] = value
    })
    const relay = new Relay(runtime, target, protocols, headers, limits, logger)
    let release = () => undefined as void
    const handler = upgradeWebSocket(() => ({
      onOpen: (_event, client) => {
        try {
          release = slots.take(target.workerId)
        } catch (err) {
          return client.close(1013, reasonOf((err as Error).message))
        }
        relay.attach(client.raw)
        relay.open(client).catch((err: Error) => client.close(1011, reasonOf(err.message)))
      },
      onMessage: (event) => relay.send(event.data as string | ArrayBuffer),
      onClose: (event) => {
        release()
        relay.close(event.code, event.reason)
      },
    }))
    return (await handler(c, async () => undefined)) ?? undefined
  }
}
