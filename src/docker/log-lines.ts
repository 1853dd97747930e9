import type { LogLine } from '../core/runtime.ts'

type StreamName = LogLine['stream']

interface Pending {
  at: string
  text: string
}

const SPACE = 0x20

/** Longest text held while waiting for a newline (UTF-16 units); longer lines come in pieces. */
export const MAX_LINE_LENGTH = 1024 * 1024

/**
 * Turns demultiplexed log frames (`timestamps: true`) into one LogLine per line. Each frame
 * is one log message: an RFC 3339 timestamp, a space, then the text. A message the Engine
 * split (lines over 16 KiB) arrives without its newline; its continuation's timestamp is
 * dropped and the text joined. Text is decoded per stream, so UTF-8 split at a frame
 * boundary stays intact. A line that grows past `maxLineLength` without a newline is passed
 * on as it is and continued in a next LogLine, so a worker printing without newlines cannot
 * make the parser hold its whole output.
 */
export class LogLineParser {
  readonly #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() }
  readonly #pending: Record<StreamName, Pending | undefined> = {
    stdout: undefined,
    stderr: undefined,
  }
  readonly #onLine: (line: LogLine) => void
  readonly #maxLineLength: number

  constructor(onLine: (line: LogLine) => void, maxLineLength = MAX_LINE_LENGTH) {
    this.#onLine = onLine
    this.#maxLineLength = maxLineLength
  }

  /** Handles one frame's payload. */
  frame(stream: StreamName, payload: Uint8Array): void {
    const space = payload.indexOf(SPACE)
    const at = space > 0 ? Buffer.from(payload.subarray(0, space)).toString('latin1') : ''
    const body = space > 0 ? payload.subarray(space + 1) : payload
    const text = this.#decoders[stream].decode(body, { stream: true })
    const pending = this.#pending[stream]
    const parts = ((pending?.text ?? '') + text).split('\n')
    const lineAt = pending?.at ?? at
    const last = parts.pop() ?? ''
    parts.forEach((part, i) => this.#emit(stream, i === 0 ? lineAt : at, part))
    const lastAt = parts.length > 0 ? at : lineAt
    if (last.length > this.#maxLineLength) {
      this.#emit(stream, lastAt, last)
      this.#pending[stream] = undefined
      return
    }
    this.#pending[stream] = last ? { at: lastAt, text: last } : undefined
  }

  /** Emits whatever is left without a final newline. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.#decoders[stream].decode()
      const pending = this.#pending[stream]
      this.#pending[stream] = undefined
      if (pending || rest) this.#emit(stream, pending?.at ?? '', (pending?.text ?? '') + rest)
    }
  }

  #emit(stream: StreamName, at: string, text: string): void {
    this.#onLine({ stream, at, text: text.endsWith('\r') ? text.slice(0, -1) : text })
  }
}
