import type { Terminal, TerminalRequest } from '../core/runtime.ts'
import { dockerCall, mustCall, type DockerContext } from './docker-call.ts'
import { killUntilEnded } from './docker-exec.ts'
import { exitCodeOf, streamEnded } from './exec-start.ts'
import { EXEC_ENV, newExecKey } from './exec-wrapper.ts'

/**
 * The user every terminal runs as. Explicit rather than the container's default, so that no
 * image or plugin setting can ever hand an operator's keystrokes a root shell.
 */
export const TERMINAL_USER = '1000:1000'

/**
 * The worker user's login shell from its passwd entry, else bash, else sh: `-l` so the shell
 * reads the same profile a login would (PATH, prompt).
 */
export const LOGIN_SHELL = [
  '/bin/sh',
  '-c',
  [
    's=$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f7)',
    '[ -n "$s" ] && [ -x "$s" ] || s=/bin/bash',
    '[ -x "$s" ] || s=/bin/sh',
    'exec "$s" -l',
  ].join('; '),
  'ws-terminal',
]

/**
 * Opens a shell in a PTY in the container (exec with `Tty`, stdin attached: the socket carries
 * raw bytes both ways, no multiplexing) as TERMINAL_USER. Like `spawnExec`, the exec is tagged
 * with `EXEC_ENV` so `kill` reaches the shell, its process group and its whole session.
 */
export const openTerminal = async (
  ctx: DockerContext,
  id: string,
  req: TerminalRequest,
): Promise<Terminal> => {
  const key = newExecKey()
  const container = ctx.docker.getContainer(id)
  const env = { TERM: 'xterm-256color', ...req.env, [EXEC_ENV]: key }
  const exec = await mustCall(ctx, 'exec create', { containerId: id, tty: true }, () =>
    container.exec({
      Cmd: req.argv ?? LOGIN_SHELL,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: true,
      User: TERMINAL_USER,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...(req.workdir ? { WorkingDir: req.workdir } : {}),
    }),
  )
  const fields = { containerId: id, execId: exec.id }
  const stream = await mustCall(ctx, 'exec start', fields, () =>
    exec.start({ hijack: true, stdin: true, Tty: true }),
  )
  stream.on('error', (err) =>
    ctx.logger.debug('terminal stream error', { ...fields, reason: err.message }),
  )
  stream.on('data', (chunk: Buffer) => {
    try {
      req.onOutput(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    } catch (err) {
      ctx.logger.debug('terminal onOutput threw', { ...fields, reason: String(err) })
    }
  })
  const ended = streamEnded(stream)
  const resize = async (cols: number, rows: number) => {
    // The Engine refuses a resize once the exec has ended: nothing is left to resize then.
    await dockerCall(
      ctx,
      'exec resize',
      { ...fields, cols, rows },
      () => exec.resize({ h: rows, w: cols }),
      () => true,
    )
  }
  // The exec has no size until it runs; the shell reads it again on the SIGWINCH this sends.
  await resize(req.cols, req.rows)

  let killing: Promise<void> | undefined
  const exited = ended.then(async () => {
    await killing
    return killing ? 137 : exitCodeOf(ctx, id, exec).catch(() => 137)
  })
  return {
    write: (data) => {
      if (!stream.destroyed && stream.writable) stream.write(data)
    },
    resize,
    pause: () => void stream.pause(),
    resume: () => void stream.resume(),
    kill: async () => {
      ctx.logger.debug('terminal kill', fields)
      // Paused output would keep the stream from ending: let it drain while the shell dies.
      stream.resume()
      killing ??= killUntilEnded(ctx, id, key, stream, ended)
      await killing
    },
    exited,
  }
}
