import type { Duplex, Readable } from 'node:stream'
import type Dockerode from 'dockerode'
import { SpawnerError } from '../core/errors.ts'
import { mustCall, type DockerContext } from './docker-call.ts'

/** An exec that has been created and started, with its multiplexed output socket. */
export interface StartedExec {
  exec: Dockerode.Exec
  stream: Duplex
}

/**
 * Creates and starts an exec (two Engine calls). `user` defaults to the container's user.
 * With `stdin` the socket also carries the command's standard input: what is written to it
 * goes to the command, and ending it (a half-close) gives the command EOF.
 */
export const startExec = async (
  ctx: DockerContext,
  id: string,
  opts: {
    cmd: string[]
    env?: Record<string, string>
    workdir?: string
    user?: string
    stdin?: boolean
  },
): Promise<StartedExec> => {
  const stdin = opts.stdin === true
  const container = ctx.docker.getContainer(id)
  const exec = await mustCall(ctx, 'exec create', { containerId: id }, () =>
    container.exec({
      Cmd: opts.cmd,
      AttachStdin: stdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      ...(opts.env ? { Env: Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) } : {}),
      ...(opts.workdir ? { WorkingDir: opts.workdir } : {}),
      ...(opts.user ? { User: opts.user } : {}),
    }),
  )
  const fields = { containerId: id, execId: exec.id }
  const stream = await mustCall(ctx, 'exec start', fields, () =>
    exec.start({ hijack: true, stdin }),
  )
  stream.on('error', (err) =>
    ctx.logger.debug('exec stream error', { ...fields, reason: err.message }),
  )
  return { exec, stream }
}

/** Resolves once the socket has ended, closed or failed (whichever comes first). */
export const streamEnded = (stream: Readable): Promise<void> =>
  new Promise((resolve) => {
    if (stream.destroyed || stream.readableEnded) return resolve()
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', () => resolve())
  })

/**
 * The exit code of a finished exec. The output stream can end a moment before the Engine
 * records the exit, so a still-running answer is asked again briefly.
 */
export const exitCodeOf = async (ctx: DockerContext, id: string, exec: Dockerode.Exec) => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const info = await mustCall(ctx, 'exec inspect', { containerId: id, execId: exec.id }, () =>
      exec.inspect(),
    )
    if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new SpawnerError('docker_error', 'docker: exec did not report an exit code')
}
