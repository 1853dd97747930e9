import type { Hono } from 'hono'
import type { UpgradeWebSocket, WSContext } from 'hono/ws'
import type { Principal } from '../core/auth/authorize.ts'
import type { Forwarder } from '../core/dispatcher.ts'
import { BadRequestError, ConflictError, ForbiddenError } from '../core/errors.ts'
import { canOpenTerminal, type TerminalRequest } from '../core/runtime.ts'
import type { WorkerService } from '../core/service.ts'
import { parseInput } from '../core/validation.ts'
import { principalOf, type AppEnv } from './auth.ts'
import { parseClientFrame, terminalQuerySchema } from './terminal-frames.ts'
import type { TerminalPeer, TerminalSession, TerminalSessions } from './terminal-session.ts'

/** The tool a worker token needs to open a terminal into itself or a worker it spawned. */
export const TERMINAL_TOOL = 'terminal'

/** The route's path. */
export const TERMINAL_PATH = '/v1/workers/:id/terminal'

export interface TerminalRouteOptions {
  service: WorkerService
  sessions: TerminalSessions
  /** The server's WebSocket upgrade (Node: `upgradeWebSocket` of @hono/node-server). */
  upgrade?: UpgradeWebSocket<unknown>
  /** Finds the instance owning a worker (Redis on): another's worker is refused. */
  remote?: Forwarder
}

/**
 * A worker may open a terminal only with the `terminal` tool, and only into itself or a worker
 * it spawned (the rules of every worker-scoped command).
 */
const authorizeTerminal = async (p: Principal, workerId: string, service: WorkerService) => {
  if (p.kind === 'operator') return
  const tools = p.kind === 'worker' ? p.tools : []
  if (!tools.includes(TERMINAL_TOOL)) {
    throw new ForbiddenError(
      `worker '${p.workerId}' lacks the tool '${TERMINAL_TOOL}' (allowed: ${tools.join(', ') || 'none'})`,
      'tool_not_allowed',
    )
  }
  if (!(await service.isWithin(workerId, p.workerId))) {
    throw new ForbiddenError(
      `worker '${p.workerId}' may act only on itself and the workers it spawned, not '${workerId}'`,
      'not_your_worker',
    )
  }
}

/** `ws`'s socket: a send that says when the frame has left, and what is still queued. */
interface FlowSocket {
  send(data: Uint8Array, opts: { binary: true }, sent: (err?: Error) => void): void
}

const hasFlow = (raw: unknown): raw is FlowSocket =>
  typeof (raw as { send?: unknown } | undefined)?.send === 'function' &&
  typeof (raw as { bufferedAmount?: unknown }).bufferedAmount === 'number'

/** The session's view of one WebSocket. */
const peerOf = (ws: WSContext<unknown>): TerminalPeer => ({
  output(chunk, sent) {
    if (ws.readyState !== 1) return sent()
    const raw = ws.raw
    if (hasFlow(raw)) raw.send(chunk, { binary: true }, () => sent())
    else {
      ws.send(chunk as Uint8Array<ArrayBuffer>)
      sent()
    }
  },
  exit(code) {
    if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'exit', code }))
  },
  close(code, reason) {
    if (ws.readyState <= 1) ws.close(code, reason)
  },
})

/**
 * `GET /v1/workers/:workerId/terminal`: a WebSocket into a login shell in a PTY in the worker,
 * as uid 1000, in its workdir (see the README's "Terminal"). Who may call is checked before the
 * upgrade (HTTP errors, like every route: the app's auth and browser guard run first); what
 * keeps the shell from opening comes after it, as a close with 4000 + the HTTP status and the
 * error's code and message as the reason, which a browser can read.
 */
export const registerTerminalRoute = (app: Hono<AppEnv>, opts: TerminalRouteOptions) => {
  const { service, sessions, upgrade, remote } = opts
  app.get(TERMINAL_PATH, async (c) => {
    const workerId = c.req.param('id')
    const size = parseInput(terminalQuerySchema, c.req.query(), 'terminal size')
    await authorizeTerminal(principalOf(c), workerId, service)
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new BadRequestError(`${c.req.path} is a WebSocket: connect with 'Upgrade: websocket'`)
    }
    if (!upgrade) {
      throw new ConflictError('this service cannot serve WebSockets', 'terminal_unavailable')
    }
    const open = async (onOutput: TerminalRequest['onOutput']) => {
      const record = await service.get(workerId)
      const owner = await remote?.ownerOf(workerId)
      if (owner?.alive) {
        throw new ConflictError(
          `worker '${workerId}' is served by instance '${owner.instance}': open its terminal there`,
          'terminal_unavailable',
        )
      }
      const runtime = service.runtime
      if (!canOpenTerminal(runtime)) {
        throw new ConflictError(
          'terminals need Docker in this process: workers on host agents have none',
          'terminal_unavailable',
        )
      }
      // A sleeping worker is woken, as a command would wake it.
      const { state } = await service.status({ workerId })
      if (state === 'paused') await service.resume({ workerId })
      else if (state !== 'running') {
        throw new ConflictError(`worker '${workerId}' is ${state}`, 'conflict')
      }
      service.touch(workerId)
      return runtime.openTerminal(record.containerId, {
        workdir: record.workdir,
        cols: size.cols,
        rows: size.rows,
        onOutput,
      })
    }
    let session: TerminalSession | undefined
    return upgrade(c, {
      onOpen: (_evt, ws) => {
        session = sessions.start(
          { workerId, open, onActivity: () => service.touch(workerId) },
          peerOf(ws),
        )
      },
      onMessage: (evt) => {
        if (typeof evt.data !== 'string') return
        const frame = parseClientFrame(evt.data)
        if (frame) session?.receive(frame)
      },
      onClose: () => session?.gone(),
      onError: () => session?.gone(),
    })
  })
}
