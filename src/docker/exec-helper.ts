import type { Readable } from 'node:stream'
import { UnavailableError } from '../core/errors.ts'
import { mustCall, type DockerContext } from './docker-call.ts'
import { ExecOutput } from './exec-output.ts'
import { cleanCommand, helperExecEnv } from './exec-helper-env.ts'
import { exitCodeOf, startExec, streamEnded, type StartedExec } from './exec-start.ts'

/**
 * How long a helper may run before its exec is given up. Helpers run as the worker user,
 * whom the agent is too: it can stop them (SIGSTOP) and would otherwise hang the call.
 */
export interface HelperTimeouts {
  /** A file read or write (default 60 s). */
  fileMs: number
  /** One kill of a timed-out or aborted command (default 15 s). */
  killMs: number
}

export const HELPER_TIMEOUTS: Readonly<HelperTimeouts> = { fileMs: 60_000, killMs: 15_000 }

/** The deadline of `kind` in this context. */
export const helperTimeout = (ctx: DockerContext, kind: keyof HelperTimeouts): number =>
  ctx.helperTimeouts?.[kind] ?? HELPER_TIMEOUTS[kind]

/** Helper exec environments, per Docker context and container (bounded, oldest out). */
const envs = new WeakMap<DockerContext, Map<string, Promise<Record<string, string>>>>()
const MAX_ENVS = 10_000

/**
 * The exec `Env` of a helper in container `id` (see `helperExecEnv`). A container's
 * environment never changes, so it is inspected once.
 */
const helperEnvOf = (ctx: DockerContext, id: string): Promise<Record<string, string>> => {
  let known = envs.get(ctx)
  if (!known) envs.set(ctx, (known = new Map()))
  const seen = known.get(id)
  if (seen) return seen
  if (known.size >= MAX_ENVS) known.delete(known.keys().next().value!)
  const container = ctx.docker.getContainer(id)
  const env = mustCall(ctx, 'inspect', { containerId: id }, () => container.inspect()).then(
    (info) => helperExecEnv(info.Config?.Env ?? []),
  )
  known.set(id, env)
  env.catch(() => known.delete(id))
  return env
}

/** Forgets a removed container's helper environment. */
export const forgetHelperEnv = (ctx: DockerContext, id: string): void => {
  envs.get(ctx)?.delete(id)
}

/**
 * Starts a helper: `cmd` (absolute program paths only) as `user` (default: the container's
 * user) in `/`, with the helper environment and `env` (see exec-helper-env.ts).
 */
export const startHelper = async (
  ctx: DockerContext,
  id: string,
  opts: { cmd: string[]; env?: Record<string, string>; user?: string; stdin?: boolean },
): Promise<StartedExec> =>
  startExec(ctx, id, {
    cmd: cleanCommand(opts.cmd, opts.env),
    env: await helperEnvOf(ctx, id),
    workdir: '/',
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.stdin ? { stdin: true } : {}),
  })

/**
 * Waits for a helper's output to end (`ended`, see `streamEnded`). After `ms` the socket is
 * dropped and an UnavailableError `helper_timeout` thrown; what the helper still does in
 * the container is no longer waited for.
 */
export const helperEnded = async (
  ctx: DockerContext,
  id: string,
  stream: Readable,
  ended: Promise<void>,
  ms: number,
  what: string,
): Promise<void> => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)))
  const timedOut = await Promise.race([ended.then(() => false), late])
  clearTimeout(timer)
  if (!timedOut) return
  stream.destroy()
  ctx.logger.warn('exec helper timed out', { containerId: id, helper: what, ms })
  throw new UnavailableError(`${what} did not finish within ${ms} ms`, 'helper_timeout')
}

/**
 * Runs a short helper to completion (see `startHelper`) and returns its exit code and
 * output; past `timeoutMs` it fails with `helper_timeout` (see `helperEnded`).
 */
export const runHelper = async (
  ctx: DockerContext,
  id: string,
  cmd: string[],
  opts: { what: string; timeoutMs: number; user?: string },
): Promise<{ exitCode: number; stdout: string; stderr: string }> => {
  const { exec, stream } = await startHelper(ctx, id, {
    cmd,
    ...(opts.user ? { user: opts.user } : {}),
  })
  const output = new ExecOutput()
  ctx.docker.modem.demuxStream(stream, output.sink('stdout'), output.sink('stderr'))
  await helperEnded(ctx, id, stream, streamEnded(stream), opts.timeoutMs, opts.what)
  output.finish()
  const exitCode = await exitCodeOf(ctx, id, exec)
  return { exitCode, stdout: output.stdout, stderr: output.stderr }
}
