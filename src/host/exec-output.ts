import { Writable } from 'node:stream'

type StreamName = 'stdout' | 'stderr'

/** How much of each stream `ExecOutput` keeps when the request sets no `maxOutputBytes`. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024

/**
 * Collects an exec's stdout and stderr as text. Each stream has its own streaming UTF-8
 * decoder, so a character split across two frames is emitted whole, and `onOutput` sees
 * chunks in the order the frames arrived. A throwing `onOutput` does not stop collection;
 * its first error is kept in `callbackError`.
 *
 * Each stream keeps at most `maxBytes` bytes (a character cut by the limit is dropped whole);
 * later bytes are dropped and `truncated` is set. `onOutput` still sees everything.
 */
export class ExecOutput {
  stdout = ''
  stderr = ''
  truncated = false
  callbackError: unknown
  readonly #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() }
  readonly #kept = { stdout: 0, stderr: 0 }
  readonly #full = { stdout: false, stderr: false }
  readonly #onOutput: ((stream: StreamName, chunk: string) => void) | undefined
  readonly #maxBytes: number

  constructor(
    onOutput?: (stream: StreamName, chunk: string) => void,
    maxBytes = DEFAULT_MAX_OUTPUT_BYTES,
  ) {
    this.#onOutput = onOutput
    this.#maxBytes = maxBytes
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
    const decoder = this.#decoders[stream]
    const keep = Math.min(bytes.length, Math.max(0, this.#maxBytes - this.#kept[stream]))
    this.#kept[stream] += keep
    // Decoding the kept head and the rest in two calls of one streaming decoder gives the same
    // text as one call, so the callback needs no decoder of its own.
    let text = keep ? decoder.decode(bytes.subarray(0, keep), { stream: true }) : ''
    this[stream] += text
    if (keep < bytes.length) {
      this.#full[stream] = true
      this.truncated = true
      if (!this.#onOutput) return
      text += decoder.decode(bytes.subarray(keep), { stream: true })
    }
    this.#notify(stream, text)
  }

  /** Flushes both decoders; an incomplete trailing character becomes U+FFFD. */
  finish(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = this.#decoders[stream].decode()
      // Past the limit the decoder holds only bytes that were dropped.
      if (!this.#full[stream]) this[stream] += text
      this.#notify(stream, text)
    }
  }

  #notify(stream: StreamName, text: string): void {
    if (!text) return
    try {
      this.#onOutput?.(stream, text)
    } catch (err) {
      this.callbackError ??= err
    }
  }
}
