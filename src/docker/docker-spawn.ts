import { Writable } from 'node:stream'
import type { SpawnedCommand, SpawnRequest } from '../core/runtime.ts'
import type { DockerContext } from './docker-call.ts'
import { killUntilEnded } from './docker-exec.ts'
import { exitCodeOf, startExec, streamEnded } from './exec-start.ts'
import { EXEC_ENV, newExecKey } from './exec-wrapper.ts'

/** A sink that decodes one stream's frames (a character split across two stays whole). */
const decoding = (onText: (text: string) => void) => {
  const decoder = new TextDecoder()
  return new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      try {
        const text = decoder.decode(chunk, { stream: true })
        if (text) onText(text)
      } catch {
        // A listener that throws loses that chunk, never the stream.
      }
      done()
    },
  })
}

/**
 * Starts `req.argv` in the container with its stdin attached (the exec's socket carries both
 * ways) and tagged with `EXEC_ENV`, so `kill` reaches it and everything it started (see
 * exec-wrapper.ts). Output goes to `onOutput` and is not kept: the command may run for hours.
 */
export const spawnExec = async (
  ctx: DockerContext,
  id: string,
  req: SpawnRequest,
): Promise<SpawnedCommand> => {
  const key = newExecKey()
  const { exec, stream } = await startExec(ctx, id, {
    cmd: req.argv,
    env: { ...req.env, [EXEC_ENV]: key },
    ...(req.workdir ? { workdir: req.workdir } : {}),
    stdin: true,
  })
  ctx.docker.modem.demuxStream(
    stream,
    decoding((t) => req.onOutput('stdout', t)),
    decoding((t) => req.onOutput('stderr', t)),
  )
  const ended = streamEnded(stream)
  let killing: Promise<void> | undefined
  const exited = ended.then(async () => {
    await killing
    return killing ? 137 : exitCodeOf(ctx, id, exec).catch(() => 137)
  })
  return {
    write: (data) => {
      if (!stream.destroyed && stream.writable) stream.write(data)
    },
    end: () => {
      if (!stream.destroyed && stream.writable) stream.end()
    },
    kill: async () => {
      ctx.logger.debug('spawned exec kill', { containerId: id, execId: exec.id })
      killing ??= killUntilEnded(ctx, id, key, stream, ended)
      await killing
    },
    exited,
  }
}
