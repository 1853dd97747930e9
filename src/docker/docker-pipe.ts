import { Readable, Transform, Writable, type TransformCallback } from 'node:stream'
import type { ContainerPipe, PipeRequest } from '../core/runtime.ts'
import type { DockerContext } from './docker-call.ts'
import { startHelper } from './exec-helper.ts'
import { streamEnded } from './exec-start.ts'

/** How much of the command's stderr is kept: enough for an error message. */
const MAX_STDERR_BYTES = 64 * 1024

/**
 * Splits the Engine's multiplexed exec output (8-byte frame headers: stream, 0, 0, 0, length)
 * into stdout, passed on as raw bytes, and stderr, kept as text. Unlike dockerode's
 * `demuxStream` it is a Transform: a slow reader of stdout slows the socket down instead of
 * letting output pile up in memory.
 */
export class StdoutDemux extends Transform {
  #pending: Buffer = Buffer.alloc(0)
  #stderr: Buffer[] = []
  #stderrBytes = 0

  /** What the command printed on stderr so far (the first MAX_STDERR_BYTES). */
  get stderr(): string {
    return Buffer.concat(this.#stderr).toString('utf8')
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4)
      if (buf.length < 8 + size) break
      const payload = buf.subarray(8, 8 + size)
      if (buf[0] === 2) this.#keepStderr(payload)
      else if (payload.length) this.push(payload)
      buf = buf.subarray(8 + size)
    }
    this.#pending = buf
    done()
  }

  #keepStderr(payload: Buffer) {
    const room = MAX_STDERR_BYTES - this.#stderrBytes
    if (room <= 0) return
    const part = payload.subarray(0, room)
    this.#stderr.push(Buffer.from(part))
    this.#stderrBytes += part.length
  }
}

/**
 * Starts `req.argv` as a helper (see `startHelper`) with its stdin attached and returns its
 * stdin and stdout as a binary byte stream: a relay to a port inside a container with no
 * network. One exec per pipe; closing it drops the exec's socket.
 */
export const pipeExec = async (
  ctx: DockerContext,
  id: string,
  req: PipeRequest,
): Promise<ContainerPipe> => {
  const { stream } = await startHelper(ctx, id, { cmd: req.argv, user: req.user, stdin: true })
  const demux = new StdoutDemux()
  stream.pipe(demux)
  const ended = streamEnded(stream)
  // The socket can close without an `end` (dropped): stdout ends with it either way.
  void ended.then(() => {
    if (!demux.writableEnded) demux.end()
  })
  const stdin = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      if (stream.destroyed || !stream.writable) return done(new Error('the relay has ended'))
      stream.write(chunk, (err) => done(err ?? null))
    },
    final: (done) => {
      // A half-close: the command gets EOF on stdin and may still answer.
      if (!stream.destroyed && stream.writable) stream.end()
      done()
    },
  })
  const close = () => {
    stream.destroy()
    demux.destroy()
    stdin.destroy()
  }
  return {
    readable: Readable.toWeb(demux) as ReadableStream<Uint8Array>,
    writable: Writable.toWeb(stdin) as WritableStream<Uint8Array>,
    stderr: ended.then(() => demux.stderr),
    close,
  }
}
