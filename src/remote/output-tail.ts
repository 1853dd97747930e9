type StreamName = 'stdout' | 'stderr'

/** The default of `ExecRequest.maxOutputBytes`. */
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024

const utf8Length = (text: string): number => new TextEncoder().encode(text).byteLength

const charBytes = (codePoint: number): number =>
  codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4

/**
 * The output of a remote exec as received, each stream capped at `maxBytes` like the
 * runtime's own result: what a result made on this side (a cancelled exec whose answer was
 * cut off) carries.
 */
export class OutputTail {
  readonly #kept = { stdout: '', stderr: '' }
  readonly #bytes = { stdout: 0, stderr: 0 }
  #truncated = false
  readonly #maxBytes: number

  constructor(maxBytes = DEFAULT_MAX_BYTES) {
    this.#maxBytes = maxBytes
  }

  push(stream: StreamName, chunk: string): void {
    const room = this.#maxBytes - this.#bytes[stream]
    const size = utf8Length(chunk)
    if (size <= room) {
      this.#kept[stream] += chunk
      this.#bytes[stream] += size
      return
    }
    this.#truncated = true
    // Whole characters only, as the runtime keeps them.
    let used = 0
    let end = 0
    for (const char of chunk) {
      const n = charBytes(char.codePointAt(0) ?? 0)
      if (used + n > room) break
      used += n
      end += char.length
    }
    this.#kept[stream] += chunk.slice(0, end)
    this.#bytes[stream] = this.#maxBytes
  }

  result(): { stdout: string; stderr: string; truncated?: true } {
    return { ...this.#kept, ...(this.#truncated ? { truncated: true as const } : {}) }
  }
}
