import { Writable } from 'node:stream'

type StreamName = 'stdout' | 'stderr'

/**
 * Collects an exec's stdout and stderr as text. Each stream has its own streaming UTF-8
 * decoder, so a character split across two frames is emitted whole, and `onOutput` sees
 * chunks in the order the frames arrived. A throwing `onOutput` does not stop collection;
 * its first error is kept in `callbackError`.
 */
export class ExecOutput {
  stdout = ''
  stderr = ''
  callbackError: unknown
  readonly #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() }
  readonly #onOutput: ((stream: StreamName, chunk: string) => void) | undefined

  constructor(onOutput?: (stream: StreamName, chunk: string) => void) {
    this.#onOutput = onOutput
  }

  /**
   * A writable for `modem.demuxStream`. Writes are handled synchronously (unlike a
   * PassThrough, which may buffer one stream while the other flows), so order is kept.
   */
  sink(stream: StreamName): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.push(stream, chunk)
        done()
      },
    })
  }

  /** Adds raw bytes from one stream. */
  push(stream: StreamName, bytes: Uint8Array): void {
    this.#emit(stream, this.#decoders[stream].decode(bytes, { stream: true }))
  }

  /** Flushes both decoders; an incomplete trailing character becomes U+FFFD. */
  finish(): void {
    this.#emit('stdout', this.#decoders.stdout.decode())
    this.#emit('stderr', this.#decoders.stderr.decode())
  }

  #emit(stream: StreamName, text: string): void {
    if (!text) return
    this[stream] += text
    try {
      this.#onOutput?.(stream, text)
    } catch (err) {
      this.callbackError ??= err
    }
  }
}
