import { Writable } from 'node:stream'

type StreamName = 'stdout' | 'stderr'

/** How much of each stream `ExecOutput` keeps when the request sets no `maxOutputBytes`. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024

/** The line `onOutput` gets on stderr, once, when `stream` goes past `maxBytes`. */
export const truncationNotice = (stream: StreamName, maxBytes: number): string =>
  `[workers-spawner] ${stream} passed ${maxBytes} bytes; the rest of it is dropped\n`

/**
 * Collects an exec's stdout and stderr as text. Each stream has its own streaming UTF-8
 * decoder, so a character split across two frames is emitted whole, and `onOutput` sees
 * chunks in the order the frames arrived. A throwing `onOutput` does not stop collection;
 * its first error is kept in `callbackError`.
 *
 * Each stream keeps at most `maxBytes` bytes (a character cut by the limit is dropped whole);
 * later bytes are dropped and `truncated` is set. `onOutput` sees exactly what is kept, plus
 * one `truncationNotice` on stderr per stream cut short: output events, Redis and SSE clients
 * never carry more than the result would.
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
  /** Whether the last stderr chunk passed on ended mid-line, so a notice needs a newline first. */
  #stderrMidLine = false

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
    if (this.#full[stream]) return
    const keep = Math.min(bytes.length, this.#maxBytes - this.#kept[stream])
    this.#kept[stream] += keep
    const text = keep
      ? this.#decoders[stream].decode(bytes.subarray(0, keep), { stream: true })
      : ''
    this[stream] += text
    this.#notify(stream, text)
    if (keep < bytes.length) {
      // Bytes of a character cut by the limit stay in the decoder, which is never flushed.
      this.#full[stream] = true
      this.truncated = true
      const notice = truncationNotice(stream, this.#maxBytes)
      this.#notify('stderr', this.#stderrMidLine ? `\n${notice}` : notice)
    }
  }

  /** Flushes both decoders; an incomplete trailing character becomes U+FFFD. */
  finish(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#full[stream]) continue
      const text = this.#decoders[stream].decode()
      this[stream] += text
      this.#notify(stream, text)
    }
  }

  #notify(stream: StreamName, text: string): void {
    if (!text) return
    if (stream === 'stderr') this.#stderrMidLine = !text.endsWith('\n')
    try {
      this.#onOutput?.(stream, text)
    } catch (err) {
      this.callbackError ??= err
    }
  }
}
