import { BadRequestError, SpawnerError, UnavailableError } from '../../core/errors.ts'
import { armCancel } from '../exec-cancel.ts'
import type { Logger } from '../../core/logger.ts'
import type { ExecRequest, ExecResult } from '../../core/runtime.ts'
import { DEFAULT_MAX_OUTPUT_BYTES, ExecOutput } from '../exec-output.ts'
import type { DaemonConnection } from './daemon-connection.ts'
import { DaemonLostError, sendInput, startRequest, type DaemonEnd } from './daemon-request.ts'
import { FRAME, jsonFrame } from './frames.ts'

/** Exit codes as `runExec` (docker-exec.ts) reports them. */
const EXIT_TIMEOUT = 124
const EXIT_ABORTED = 130
/** How long after a cancel the daemon has to send END before the connection is dropped. */
const CANCEL_GRACE_MS = 5000

/** Bounds of an exec the daemon takes (docs/daemon-protocol.md, Requests). */
const MAX_ARGV = 4096
const MAX_LIST_BYTES = 1024 * 1024
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const MAX_PATH_BYTES = 4096
/** The largest `maxOutputBytes` the daemon takes (1 TiB: no cap in practice). */
const MAX_OUTPUT_BYTES = 2 ** 40

/**
 * Why the daemon cannot take `req` as it is (the Engine's exec then runs it, which takes
 * more), or undefined when it can.
 */
export const execOutOfBounds = (req: ExecRequest): string | undefined => {
  const argvBytes = req.argv.reduce((n, a) => n + Buffer.byteLength(a), 0)
  if (req.argv.length < 1 || req.argv.length > MAX_ARGV || argvBytes > MAX_LIST_BYTES) return 'argv'
  const env = Object.entries(req.env ?? {})
  if (env.length > MAX_ARGV || env.some(([k]) => !ENV_NAME.test(k))) return 'env'
  const envBytes = env.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)
  if (envBytes > MAX_LIST_BYTES) return 'env'
  const w = req.workdir
  if (w && (!w.startsWith('/') || w.includes('\0') || Buffer.byteLength(w) > MAX_PATH_BYTES)) {
    return 'workdir'
  }
  return undefined
}

/** How a daemon exec went wrong enough that the caller must clean up after it. */
export interface DaemonExecHooks {
  /** Kills what still carries `tag` (the daemon could not), e.g. through the Engine. */
  killTag(tag: string): Promise<void>
  logger: Logger
  containerId: string
}

/**
 * Runs `req` through the daemon on `conn`, with the semantics of `runExec`: exit 124 and
 * `timedOut` after `timeoutMs`, 130 when `signal` aborts, output through `ExecOutput` (kept up
 * to `maxOutputBytes`, with its notice), a command that cannot start as exit 127/126 with the
 * message on stderr. A daemon that gives no END after a cancel, or whose connection goes
 * mid-command, has the command's processes killed by `hooks.killTag`.
 */
export const daemonExec = async (
  conn: DaemonConnection,
  req: ExecRequest,
  tag: string,
  hooks: DaemonExecHooks,
): Promise<ExecResult> => {
  const started = performance.now()
  const durationMs = () => Math.round(performance.now() - started)
  const maxBytes = req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  const output = new ExecOutput(req.onOutput, maxBytes)
  const withStdin = req.stdin !== undefined
  const ended = startRequest(
    conn,
    {
      op: 'exec',
      argv: req.argv,
      env: req.env ?? {},
      ...(req.workdir ? { workdir: req.workdir } : {}),
      // The runtime's own timer cancels first (see `cancel`); the daemon's is a safety net.
      ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs + CANCEL_GRACE_MS } : {}),
      stdin: withStdin,
      // One byte past the cap reaches ExecOutput, which then cuts and says so itself.
      maxOutputBytes: Math.min(maxBytes + 1, MAX_OUTPUT_BYTES),
      tag,
    },
    {
      stdout: (b) => output.push('stdout', b),
      stderr: (b) => output.push('stderr', b),
    },
  )
  if (req.stdin !== undefined) sendInput(conn, new TextEncoder().encode(req.stdin))

  let reason: 'timeout' | 'abort' | undefined
  let grace: NodeJS.Timeout | undefined
  let killed: Promise<void> | undefined
  const cancel = (why: 'timeout' | 'abort') => {
    if (reason) return
    reason = why
    hooks.logger.debug('exec cancel', { containerId: hooks.containerId, reason: why, daemon: true })
    // The Engine's kill first, while the tagged processes still show what belongs to them
    // (their sessions, what holds their output), then the daemon's (group and tag).
    killed = hooks
      .killTag(tag)
      .catch(() => undefined)
      .then(() => {
        conn.send(jsonFrame(FRAME.CONTROL, { cancel: true }))
        grace = setTimeout(() => conn.close('no END after a cancel'), CANCEL_GRACE_MS)
      })
  }
  const disarm = armCancel(req, durationMs, cancel)
  let end: DaemonEnd | undefined
  try {
    end = await ended
  } catch (err) {
    if (!(err instanceof DaemonLostError)) throw err
    // The command may still run with nobody reading it: its processes go.
    await hooks.killTag(tag).catch(() => undefined)
    if (!reason) {
      throw new UnavailableError(
        "the worker's daemon went away while the command ran; its outcome is unknown",
        'unavailable',
        { cause: err },
      )
    }
  } finally {
    disarm()
    await killed
    clearTimeout(grace)
  }
  if (end && !end.ok && end.error.code !== 'start_failed') throw execError(end)
  output.finish()
  if (end && !end.ok) {
    const exitCode = end.exitCode === 126 ? 126 : 127
    const message = end.error.message.endsWith('\n') ? end.error.message : `${end.error.message}\n`
    try {
      req.onOutput?.('stderr', message)
    } catch (err) {
      output.callbackError ??= err
    }
    logCallbackError(hooks, output.callbackError)
    return { exitCode, stdout: '', stderr: message, timedOut: false, durationMs: durationMs() }
  }
  const timedOut = reason === 'timeout' || (reason === undefined && end?.timedOut === true)
  const exitCode = timedOut
    ? EXIT_TIMEOUT
    : reason === 'abort'
      ? EXIT_ABORTED
      : typeof end?.exitCode === 'number'
        ? end.exitCode
        : 1
  logCallbackError(hooks, output.callbackError)
  return {
    exitCode,
    stdout: output.stdout,
    stderr: output.stderr,
    timedOut,
    durationMs: durationMs(),
    ...(output.truncated ? { truncated: true } : {}),
  }
}

const logCallbackError = (hooks: DaemonExecHooks, err: unknown) => {
  if (err)
    hooks.logger.warn('exec onOutput threw', {
      containerId: hooks.containerId,
      reason: String(err),
    })
}

/** An exec's END error other than `start_failed`. */
const execError = (end: Extract<DaemonEnd, { ok: false }>): SpawnerError =>
  end.error.code === 'bad_request'
    ? new BadRequestError(`the command was refused: ${end.error.message}`)
    : new SpawnerError('internal', `the worker's daemon failed the command: ${end.error.message}`)
