import { UnavailableError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { Terminal, TerminalRequest } from '../../core/runtime.ts'
import type { Routed } from './daemon-router.ts'
import { DaemonLostError, startRequest } from './daemon-request.ts'
import { FRAME, MAX_PAYLOAD, jsonFrame } from './frames.ts'

/** The exit code of a terminal that was killed, as the Engine path reports it. */
const EXIT_KILLED = 137
/** How long after the end of input the daemon has to end the session before the connection goes. */
const KILL_GRACE_MS = 5000
/**
 * How long the daemon has to start the session (its id, or an END) before the connection is
 * dropped: whatever answers on the socket may say nothing, and the terminal's slot would wait.
 */
const START_MS = 10_000

/**
 * Opens a shell in a PTY through the worker's daemon (`pty`), with the `Terminal` of
 * docker-terminal.ts: same user (the daemon's, uid 1000), default the login shell, TERM set.
 * `pause` stops reading the socket, so the daemon stops reading the PTY and its writers block.
 * `kill` ends the session (the empty STDIN: SIGHUP, then SIGKILL to its group).
 */
export const daemonTerminal = async (
  routed: Routed,
  req: TerminalRequest,
  hooks: { logger: Logger; containerId: string; startMs?: number },
): Promise<Terminal> => {
  const { conn, daemon } = routed
  const fields = { containerId: hooks.containerId, daemon: true }
  let started!: () => void
  const sessionSeen = new Promise<void>((resolve) => (started = resolve))
  const ended = startRequest(
    conn,
    {
      op: 'pty',
      ...(req.argv ? { argv: req.argv } : {}),
      env: { TERM: 'xterm-256color', ...req.env },
      ...(req.workdir ? { workdir: req.workdir } : {}),
      cols: req.cols,
      rows: req.rows,
    },
    {
      stdout: (bytes) => {
        try {
          req.onOutput(new Uint8Array(bytes))
        } catch (err) {
          hooks.logger.debug('terminal onOutput threw', { ...fields, reason: String(err) })
        }
      },
      event: () => started(),
    },
  )
  // The session's id comes first: until then the PTY may not exist (or failed to start).
  const startMs = hooks.startMs ?? START_MS
  const late = setTimeout(() => conn.close(`no session in ${startMs} ms`), startMs)
  const first = await Promise.race([
    sessionSeen.then(() => undefined),
    ended.then(
      (e) => e,
      (e: unknown) => e,
    ),
  ])
  clearTimeout(late)
  if (first !== undefined) {
    daemon.release(conn)
    const why =
      first instanceof Error
        ? first.message
        : (first as { error?: { message?: string } }).error?.message
    throw new UnavailableError(`the terminal did not start: ${why ?? 'no session'}`)
  }
  let killed = false
  let done = false
  const exited = ended.then(
    (end) => {
      done = true
      daemon.release(conn)
      if (killed) return EXIT_KILLED
      return end.ok && typeof end.exitCode === 'number' ? end.exitCode : EXIT_KILLED
    },
    (err: unknown) => {
      if (!(err instanceof DaemonLostError))
        hooks.logger.debug('terminal failed', { ...fields, reason: String(err) })
      return EXIT_KILLED
    },
  )
  let killing: Promise<void> | undefined
  return {
    write: (data) => {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
      // An empty STDIN frame would end the session: nothing to send is sent as nothing.
      for (let at = 0; at < bytes.byteLength; at += MAX_PAYLOAD) {
        conn.sendBytes(FRAME.STDIN, bytes.subarray(at, at + MAX_PAYLOAD))
      }
    },
    resize: async (cols, rows) => {
      conn.send(jsonFrame(FRAME.CONTROL, { resize: { cols, rows } }))
    },
    pause: () => void conn.socket.pause(),
    resume: () => void conn.socket.resume(),
    kill: async () => {
      hooks.logger.debug('terminal kill', fields)
      killed = true
      // Paused output would keep END from being read: let it drain while the shell dies.
      conn.socket.resume()
      killing ??= (async () => {
        conn.sendBytes(FRAME.STDIN, new Uint8Array())
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, KILL_GRACE_MS)))
        await Promise.race([exited.then(() => undefined), late])
        clearTimeout(timer)
        if (!done) conn.close('terminal killed')
      })()
      await killing
    },
    exited,
  }
}
