import { JsonScan } from './json-scan.ts'
import type { UsageReading } from './usage-reading.ts'

/** Where the providers put usage and the model's name (see UsageReading.read). */
const USAGE_PATHS = [
  'type',
  'model',
  'modelVersion',
  'usage',
  'usageMetadata',
  'message.model',
  'message.usage',
  'response.model',
  'response.usage',
]

/** A scan that hands each record's usage fields to `reading`, for text too big to hold. */
const usageScan = (reading: UsageReading): JsonScan => {
  let record: Record<string, unknown> = {}
  return new JsonScan(USAGE_PATHS, {
    value(path, raw) {
      let value: unknown
      try {
        value = JSON.parse(raw)
      } catch {
        return
      }
      const [first = '', second] = path.split('.')
      if (second === undefined) record[first] = value
      else {
        const holder = (record[first] ??= {}) as Record<string, unknown>
        holder[second] = value
      }
    },
    recordEnd() {
      reading.read(record)
      record = {}
    },
  })
}

/** Reads a body that is one JSON value (or a JSON array of them, or several one after another). */
export class JsonReader {
  private parts: string[] = []
  private size = 0
  private scan: JsonScan | undefined

  constructor(
    private readonly reading: UsageReading,
    /** Characters held to parse at once; a bigger body is scanned as it streams instead. */
    private readonly maxChars: number,
  ) {}

  push(text: string): void {
    if (this.scan) return this.scan.push(text)
    this.parts.push(text)
    this.size += text.length
    if (this.size > this.maxChars) this.scan = this.scanParts()
  }

  end(): void {
    if (this.scan) return
    let value: unknown
    try {
      value = JSON.parse(this.parts.join(''))
    } catch {
      // Cut short or several values (NDJSON): the records that did close still count.
      this.scanParts()
      return
    }
    for (const v of Array.isArray(value) ? value : [value]) this.reading.read(v)
  }

  private scanParts(): JsonScan {
    const scan = usageScan(this.reading)
    for (const p of this.parts) scan.push(p)
    this.parts = []
    return scan
  }
}

/** The value of a `data:` line (one leading space is not part of it). */
const dataValue = (line: string) => line.slice(line.charCodeAt(5) === 32 ? 6 : 5)

/**
 * Reads a `text/event-stream` body: each event's data (its `data:` lines joined) is one JSON
 * value. Lines end in LF or CRLF and may be split anywhere. An event whose data outgrows
 * `maxLine` is scanned as it streams instead of held, so no response is too big to meter.
 */
export class SseReader {
  /** The current line so far, while it is held. */
  private line = ''
  /** `stream`: the current line is data going straight to `scan`; `skip`: a long line of no use. */
  private mode: 'hold' | 'stream' | 'skip' = 'hold'
  private data: string[] = []
  private size = 0
  private scan: JsonScan | undefined

  constructor(
    private readonly reading: UsageReading,
    private readonly maxLine: number,
  ) {}

  push(text: string): void {
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      if (nl === -1) return this.part(start === 0 ? text : text.slice(start))
      this.part(text.slice(start, nl))
      this.endLine()
      start = nl + 1
    }
  }

  end(): void {
    if (this.line || this.mode !== 'hold') this.endLine()
    this.dispatch()
  }

  private part(s: string) {
    if (!s || this.mode === 'skip') return
    if (this.mode === 'stream') return this.scan!.push(s)
    this.line += s
    // `data:` and the first character of the value decide what a long line is.
    if (this.line.length <= Math.max(this.maxLine, 6)) return
    if (this.line.startsWith('data:')) {
      this.scanner().push('\n' + dataValue(this.line))
      this.mode = 'stream'
    } else this.mode = 'skip'
    this.line = ''
  }

  private endLine() {
    const [mode, line] = [this.mode, this.line]
    this.mode = 'hold'
    this.line = ''
    if (mode !== 'hold') return
    const l = line.endsWith('\r') ? line.slice(0, -1) : line
    if (l === '') return this.dispatch()
    // event:, id:, retry: and comments say nothing about usage.
    if (!l.startsWith('data:')) return
    // Several data lines are joined with '\n', which is also JSON whitespace for the scan.
    if (this.scan) return this.scan.push('\n' + dataValue(l))
    const value = dataValue(l)
    this.data.push(value)
    this.size += value.length
    if (this.size > this.maxLine) this.scanner()
  }

  /** The event's scan, started with the data held so far. */
  private scanner(): JsonScan {
    if (!this.scan) {
      this.scan = usageScan(this.reading)
      this.scan.push(this.data.join('\n'))
      this.data = []
      this.size = 0
    }
    return this.scan
  }

  private dispatch() {
    const text = this.data.join('\n')
    this.data = []
    this.size = 0
    this.scan = undefined
    // Most events are content; only those naming usage are worth parsing.
    if (!text.includes('"usage')) return
    try {
      this.reading.read(JSON.parse(text))
    } catch {
      // not JSON (`[DONE]`) or garbage
    }
  }
}
