/**
 * Splits a stream of text chunks into lines for `onLine`. A line longer than `maxBytes` is
 * passed over whole (its start is dropped as soon as it is too long, the rest up to its newline
 * after it), so a flood without newlines never grows the buffer past the cap.
 */
export class LineSplitter {
  private buffer = ''
  private skipping = false

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
  ) {}

  /** A chunk of the stream. */
  push(chunk: string): void {
    let text = chunk
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n')) {
      const line = this.buffer + text.slice(0, nl)
      text = text.slice(nl + 1)
      this.buffer = ''
      if (this.skipping) this.skipping = false
      else this.onLine(line)
    }
    if (this.skipping) return
    this.buffer += text
    if (this.buffer.length > this.maxBytes) {
      this.buffer = ''
      this.skipping = true
    }
  }

  /** The end of the stream: a last line without a newline still counts. */
  end(): void {
    if (!this.skipping && this.buffer) this.onLine(this.buffer)
    this.buffer = ''
    this.skipping = false
  }
}
