import type { Readable } from 'node:stream'
import { armCancel } from './exec-cancel.ts'
import type { ExecRequest, ExecResult } from '../core/runtime.ts'
import type { DockerContext } from './docker-call.ts'
import { ExecOutput } from './exec-output.ts'
import { helperTimeout, runHelper } from './exec-helper.ts'
import { exitCodeOf, startExec, streamEnded } from './exec-start.ts'
import { StartFailureGate, startFailure } from './exec-start-failure.ts'
import { stageStdin } from './exec-stage.ts'
import { EXEC_ENV, execCommand, killCommand, newExecKey } from './exec-wrapper.ts'

/** Exit code reported when `timeoutMs` ran out (the convention of coreutils `timeout`). */
export const EXIT_TIMEOUT = 124
/** Exit code reported when the caller's `signal` aborted the command (128 + SIGINT). */
export const EXIT_ABORTED = 130
/** How long after a timeout or abort the output may take to end before the socket is dropped. */
const KILL_GRACE_MS = 5000
/** How often the kill is repeated while the output has not ended (see `killUntilEnded`). */
const KILL_REPEAT_MS = 500
/** How many kills may be under way at once (one stopped or slow does not block the next). */
const MAX_KILLS_IN_FLIGHT = 3

/**
 * Runs `req.argv` in the container as its default user, tagged with `EXEC_ENV` (see
 * exec-wrapper.ts). Without stdin the fast path is three Engine calls (create, start,
 * inspect) and no wrapper process. On timeout or abort the whole process tree is killed by
 * further execs; the result then carries what was printed so far and exit code EXIT_TIMEOUT
 * (`timedOut: true`) or EXIT_ABORTED. Each stream keeps at most `req.maxOutputBytes`.
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
  if (req.stdin !== undefined) await stageStdin(ctx, id, key, req.stdin)
  const { exec, stream } = await startExec(ctx, id, {
    cmd: execCommand(key, req.argv, withStdin),
    env: { ...req.env, [EXEC_ENV]: key },
    ...(req.workdir ? { workdir: req.workdir } : {}),
  })
  const gate = req.onOutput && new StartFailureGate(req.onOutput)
  const output = new ExecOutput(gate?.onOutput, req.maxOutputBytes)
  ctx.docker.modem.demuxStream(stream, output.sink('stdout'), output.sink('stderr'))
  const ended = streamEnded(stream)

  let reason: 'timeout' | 'abort' | undefined
  let killing: Promise<void> | undefined
  const cancel = (why: 'timeout' | 'abort') => {
    if (reason) return
    reason = why
    ctx.logger.debug('exec cancel', { containerId: id, execId: exec.id, reason: why })
    killing = killUntilEnded(ctx, id, key, stream, ended)
  }
  const disarm = armCancel(req, durationMs, cancel)
  try {
    await ended
  } finally {
    disarm()
  }
  await killing
  output.finish()
  const exitCode =
    reason === 'timeout'
      ? EXIT_TIMEOUT
      : reason === 'abort'
        ? EXIT_ABORTED
        : await exitCodeOf(ctx, id, exec)
  const failed = reason ? undefined : startFailure(exitCode, output.stdout, output.stderr)
  try {
    gate?.settle(failed)
  } catch (err) {
    output.callbackError ??= err
  }
  if (output.callbackError) {
    ctx.logger.warn('exec onOutput threw', {
      containerId: id,
      reason: String(output.callbackError),
    })
  }
  return {
    exitCode: failed?.exitCode ?? exitCode,
    stdout: failed ? '' : output.stdout,
    stderr: failed?.message ?? output.stderr,
    timedOut: reason === 'timeout',
    durationMs: durationMs(),
    ...(output.truncated ? { truncated: true } : {}),
  }
}

/**
 * Kills the exec's process tree, again every KILL_REPEAT_MS until its output ends: a command
 * the first kill did not find yet (it had not started) is caught by a later one. A kill is
 * not waited for: it runs as the worker user, so the agent can stop it, and the next one
 * starts anyway (at most MAX_KILLS_IN_FLIGHT at once, each ended by its own deadline). After
 * KILL_GRACE_MS the socket is dropped, whatever still holds it.
 */
export const killUntilEnded = async (
  ctx: DockerContext,
  id: string,
  key: string,
  stream: Readable,
  ended: Promise<void>,
): Promise<void> => {
  const deadline = performance.now() + KILL_GRACE_MS
  let done = false
  let inFlight = 0
  void ended.then(() => (done = true))
  while (!done) {
    if (inFlight < MAX_KILLS_IN_FLIGHT) {
      inFlight++
      void killTree(ctx, id, key).finally(() => inFlight--)
    }
    const left = deadline - performance.now()
    if (left <= 0) break
    await settleWithin(ended, Math.min(KILL_REPEAT_MS, left))
  }
  if (!done) stream.destroy()
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
const settleWithin = async (promise: Promise<void>, ms: number): Promise<void> => {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))])
  clearTimeout(timer)
}

/** Kills the processes tagged `key`; failures are logged, never thrown. */
const killTree = async (ctx: DockerContext, id: string, key: string): Promise<void> => {
  try {
    const timeoutMs = helperTimeout(ctx, 'killMs')
    const result = await runHelper(ctx, id, killCommand(key), { what: 'kill', timeoutMs })
    if (result.exitCode !== 0) {
      ctx.logger.warn('exec kill failed', { containerId: id, exitCode: result.exitCode })
    }
  } catch (err) {
    ctx.logger.warn('exec kill failed', { containerId: id, reason: String(err) })
  }
}
