import { Writable } from 'node:stream'
import type { DockerContext } from './docker-call.ts'
import { ExecOutput } from './exec-output.ts'
import { helperEnded, startHelper } from './exec-helper.ts'
import { exitCodeOf, streamEnded } from './exec-start.ts'

/** How much of a helper's stderr is kept: enough for an error message. */
const MAX_STDERR_BYTES = 64 * 1024

/** What `runBytes` returns: stdout as raw bytes, cut at `maxStdout`. */
export interface BytesResult {
  exitCode: number
  stdout: Uint8Array
  /** Bytes of stdout seen, also those past `maxStdout`. */
  stdoutBytes: number
  stderr: string
}

/**
 * Keeps the first `max` bytes written to it, untouched (ExecOutput decodes text, which would
 * mangle binary content), and counts the rest.
 */
class ByteSink extends Writable {
  readonly #chunks: Buffer[] = []
  readonly #max: number
  #kept = 0
  seen = 0

  constructor(max: number) {
    super()
    this.#max = max
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.seen += chunk.length
    const room = this.#max - this.#kept
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room)
      this.#chunks.push(part)
      this.#kept += part.length
    }
    done()
  }

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.#chunks))
  }
}

/**
 * Runs a helper (see `startHelper`) as `user`, feeding it `stdin` (then EOF), and returns its
 * exit code, its stdout as raw bytes (at most `maxStdout`) and its stderr as text. A command
 * that exits before reading all of `stdin` is no error here: its exit code tells what
 * happened. Past `timeoutMs` it fails with `helper_timeout` (see `helperEnded`).
 */
export const runBytes = async (
  ctx: DockerContext,
  id: string,
  opts: {
    cmd: string[]
    user: string
    what: string
    timeoutMs: number
    stdin?: Uint8Array
    maxStdout?: number
  },
): Promise<BytesResult> => {
  const withStdin = opts.stdin !== undefined
  const { exec, stream } = await startHelper(ctx, id, {
    cmd: opts.cmd,
    user: opts.user,
    stdin: withStdin,
  })
  const stdout = new ByteSink(opts.maxStdout ?? Number.POSITIVE_INFINITY)
  const stderr = new ExecOutput(undefined, MAX_STDERR_BYTES)
  ctx.docker.modem.demuxStream(stream, stdout, stderr.sink('stderr'))
  const ended = streamEnded(stream)
  if (opts.stdin) {
    const bytes = opts.stdin
    stream.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }
  await helperEnded(ctx, id, stream, ended, opts.timeoutMs, opts.what)
  stderr.finish()
  const exitCode = await exitCodeOf(ctx, id, exec)
  return { exitCode, stdout: stdout.bytes(), stdoutBytes: stdout.seen, stderr: stderr.stderr }
}
