import type { ExecRequest, ExecResult } from '../core/runtime.ts'
import type { DockerContext } from './docker-call.ts'
import { putFile } from './docker-files.ts'
import { ExecOutput } from './exec-output.ts'
import { exitCodeOf, runHelper, startExec, streamEnded } from './exec-start.ts'
import { killCommand, newExecKey, stdinPath, wrapCommand } from './exec-wrapper.ts'

/** Exit code reported when `timeoutMs` ran out (the convention of coreutils `timeout`). */
export const EXIT_TIMEOUT = 124
/** Exit code reported when the caller's `signal` aborted the command (128 + SIGINT). */
export const EXIT_ABORTED = 130
/** How long to wait for the output to end after the kill before giving up on the socket. */
const KILL_GRACE_MS = 5000

/**
 * Runs `req.argv` in the container as its default user, under the session wrapper (see
 * exec-wrapper.ts). The fast path is three Engine calls: create, start, inspect. On timeout
 * or abort the whole process tree is killed by a second exec; the result then carries what
 * was printed so far and exit code EXIT_TIMEOUT (`timedOut: true`) or EXIT_ABORTED.
 */
export const runExec = async (
  ctx: DockerContext,
  id: string,
  req: ExecRequest,
): Promise<ExecResult> => {
  const started = performance.now()
  const durationMs = () => Math.round(performance.now() - started)
  if (req.signal?.aborted) {
    return { exitCode: EXIT_ABORTED, stdout: '', stderr: '', timedOut: false, durationMs: 0 }
  }
  const key = newExecKey()
  const withStdin = req.stdin !== undefined
  if (withStdin) {
    const bytes = new TextEncoder().encode(req.stdin)
    await putFile(ctx, id, stdinPath(key), bytes, { mode: 0o600, mkdirMode: 0o1777 })
  }
  const { exec, stream } = await startExec(ctx, id, {
    cmd: wrapCommand(key, req.argv, withStdin),
    ...(req.env ? { env: req.env } : {}),
    ...(req.workdir ? { workdir: req.workdir } : {}),
  })
  const output = new ExecOutput(req.onOutput)
  ctx.docker.modem.demuxStream(stream, output.sink('stdout'), output.sink('stderr'))
  const ended = streamEnded(stream)

  let reason: 'timeout' | 'abort' | undefined
  let killing: Promise<void> | undefined
  let grace: NodeJS.Timeout | undefined
  const cancel = (why: 'timeout' | 'abort') => {
    if (reason) return
    reason = why
    ctx.logger.debug('exec cancel', { containerId: id, execId: exec.id, reason: why })
    killing = killTree(ctx, id, key).finally(() => {
      grace = setTimeout(() => stream.destroy(), KILL_GRACE_MS)
    })
  }
  const onAbort = () => cancel('abort')
  req.signal?.addEventListener('abort', onAbort, { once: true })
  if (req.signal?.aborted) onAbort()
  const timer =
    req.timeoutMs === undefined
      ? undefined
      : setTimeout(() => cancel('timeout'), Math.max(0, req.timeoutMs - durationMs()))
  try {
    await ended
  } finally {
    clearTimeout(timer)
    req.signal?.removeEventListener('abort', onAbort)
  }
  await killing
  clearTimeout(grace)
  output.finish()
  if (output.callbackError) {
    ctx.logger.warn('exec onOutput threw', {
      containerId: id,
      reason: String(output.callbackError),
    })
  }
  const exitCode =
    reason === 'timeout'
      ? EXIT_TIMEOUT
      : reason === 'abort'
        ? EXIT_ABORTED
        : await exitCodeOf(ctx, id, exec)
  return {
    exitCode,
    stdout: output.stdout,
    stderr: output.stderr,
    timedOut: reason === 'timeout',
    durationMs: durationMs(),
  }
}

/** Kills the wrapped command's session; failures are logged, never thrown. */
const killTree = async (ctx: DockerContext, id: string, key: string): Promise<void> => {
  try {
    const result = await runHelper(ctx, id, killCommand(key))
    if (result.exitCode !== 0) {
      ctx.logger.warn('exec kill failed', { containerId: id, exitCode: result.exitCode })
    }
  } catch (err) {
    ctx.logger.warn('exec kill failed', { containerId: id, reason: String(err) })
  }
}
