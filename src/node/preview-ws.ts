import { Duplex } from 'node:stream'
import { upgradeWebSocket } from '@hono/node-server'
import WebSocket from 'ws'
import { SpawnerError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import { canPipe, type ContainerRuntime, type PipingRuntime } from '../core/runtime.ts'
import type { PreviewTarget, PreviewUpgrade } from '../http/preview.ts'
import { HOP_BY_HOP, relayCommand, WORKER_USER, type PreviewLimits } from './preview-forward.ts'

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

/** One relayed socket: the worker's side opens once the relay exec runs. */
class Relay {
  #upstream: WebSocket | undefined
  #queue: (string | Buffer)[] = []
  #closed: { code: number; reason: string } | undefined

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
    })
    this.#upstream = ws
    const raw = client.raw as WebSocket
    ws.on('open', () => {
      if (this.#closed) return ws.close(this.#closed.code, this.#closed.reason)
      for (const data of this.#queue.splice(0)) ws.send(data)
    })
    ws.on('message', (data, isBinary) => {
      if (raw.readyState === WebSocket.OPEN) raw.send(data as Buffer, { binary: isBinary })
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

  send(data: string | ArrayBuffer) {
    const bytes = typeof data === 'string' ? data : Buffer.from(data)
    if (this.#upstream?.readyState === WebSocket.OPEN) this.#upstream.send(bytes)
    else if (!this.#closed) this.#queue.push(bytes)
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
 * binary as binary, closes passed on; at most PREVIEW_MAX_CONNECTIONS at once. Undefined when the runtime cannot hold a stream.
 */
export const previewUpgrader = (
  runtime: ContainerRuntime,
  limits: PreviewLimits,
  logger: Logger = noopLogger,
): PreviewUpgrade | undefined => {
  if (!canPipe(runtime)) return undefined
  let open = 0
  return async (target, c, incoming) => {
    if (open >= limits.maxConnections) {
      throw new SpawnerError(
        'too_many_previews',
        `${open} preview sockets are open, as many as PREVIEW_MAX_CONNECTIONS allows`,
      )
    }
    const protocols = (incoming.get('sec-websocket-protocol') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
    const headers: Record<string, string> = {}
    incoming.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && !OWN.has(name)) headers[name] = value
    })
    const relay = new Relay(runtime, target, protocols, headers, limits, logger)
    const handler = upgradeWebSocket(() => ({
      onOpen: (_event, client) => {
        open++
        relay.open(client).catch((err: Error) => client.close(1011, reasonOf(err.message)))
      },
      onMessage: (event) => relay.send(event.data as string | ArrayBuffer),
      onClose: (event) => {
        open--
        relay.close(event.code, event.reason)
      },
    }))
    return (await handler(c, async () => undefined)) ?? undefined
  }
}
