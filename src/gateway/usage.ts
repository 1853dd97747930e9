import { JsonScan } from './json-scan.ts'
import { JsonReader, SseReader } from './readers.ts'
import { UsageReading, type ModelUsage } from './usage-reading.ts'

export type { ModelUsage } from './usage-reading.ts'

const MiB = 1024 * 1024

/** Options of a UsageMeter. */
export interface UsageMeterOptions {
  /** The response's `content-type`: `text/event-stream` or JSON; otherwise told by the body. */
  contentType: string | null
  /** The model the request named (see requestModel), used when the response names none. */
  model?: string
  /** A JSON body held to parse at once, at most (default 16 MiB); a bigger one is scanned as it streams. */
  maxJsonBytes?: number
  /** An SSE event's data held to parse at once, at most (default 1 MiB); longer is scanned as it streams. */
  maxLineBytes?: number
}

/**
 * Reads usage from a model API response as it streams through, whatever the provider:
 * Anthropic Messages, OpenAI Responses and Chat Completions, the Gemini API; JSON bodies,
 * server-sent events, and Gemini's streamed JSON array. Memory stays bounded whatever the
 * response's size: what is too big to hold is scanned as it passes. Expects the body as sent
 * (no content encoding). Chunks are decoded as they come and not kept.
 *
 * @example
 * const meter = new UsageMeter({ contentType: res.headers.get('content-type'), model })
 * for await (const chunk of res.body) { meter.push(chunk); forward(chunk) }
 * const usage = meter.finish() // { model, inputTokens, outputTokens, ... } or undefined
 */
export class UsageMeter {
  private readonly reading = new UsageReading()
  private readonly decoder = new TextDecoder()
  private readonly kind: 'sse' | 'json' | undefined
  private reader: SseReader | JsonReader | undefined
  private done = false

  constructor(private readonly opts: UsageMeterOptions) {
    const type = opts.contentType?.toLowerCase() ?? ''
    this.kind = type.includes('event-stream') ? 'sse' : type.includes('json') ? 'json' : undefined
  }

  /** Reads the next piece of the body. Never throws. */
  push(chunk: Uint8Array): void {
    if (this.done) return
    try {
      this.feed(this.decoder.decode(chunk, { stream: true }))
    } catch {
      // A fault of ours must not break the response: keep what was read, read no more.
      this.done = true
    }
  }

  /** The usage the response reported, or undefined when it reported none. Never throws. */
  finish(): ModelUsage | undefined {
    if (!this.done) {
      this.done = true
      try {
        this.feed(this.decoder.decode())
        this.reader?.end()
      } catch {
        // as in push
      }
    }
    const counts = this.reading.usage
    if (!counts) return undefined
    const model = this.reading.model ?? this.opts.model
    return model ? { model, ...counts } : { ...counts }
  }

  private feed(text: string) {
    if (!this.reader) {
      const at = text.search(/\S/)
      // Leading whitespace says nothing, in either format.
      if (at === -1) return
      const first = text[at]
      const kind = this.kind ?? (first === '{' || first === '[' ? 'json' : 'sse')
      this.reader =
        kind === 'sse'
          ? new SseReader(this.reading, this.opts.maxLineBytes ?? MiB)
          : new JsonReader(this.reading, this.opts.maxJsonBytes ?? 16 * MiB)
      text = text.slice(at)
    }
    this.reader.push(text)
  }
}

const GEMINI_MODEL = /\/models\/([^/:]+):/
/** Request bodies are read a little at first (the model is usually named first), then more. */
const FIRST_STEP = 4096
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d])

/**
 * The model a request names: a Gemini path's (`/v1beta/models/<model>:generateContent`), else
 * the JSON body's top-level `model`. Reads only as far into the body as it must.
 */
export const requestModel = (path: string, body: Uint8Array | undefined): string | undefined => {
  const gemini = GEMINI_MODEL.exec(path.split('?', 1)[0] ?? '')?.[1]
  if (gemini) {
    try {
      return decodeURIComponent(gemini)
    } catch {
      return gemini
    }
  }
  // Only a root object's own key counts.
  if (!body || body.find((b) => !WHITESPACE.has(b)) !== 0x7b) return undefined
  let model: string | undefined
  let done = false
  const scan = new JsonScan(['model'], {
    value(_, raw) {
      if (done) return
      const v: unknown = JSON.parse(raw)
      if (typeof v === 'string' && v) model = v
    },
    recordEnd: () => void (done = true),
  })
  const decoder = new TextDecoder()
  try {
    for (let at = 0, step = FIRST_STEP; at < body.byteLength && !done && !model; step *= 2) {
      scan.push(decoder.decode(body.subarray(at, at + step), { stream: true }))
      at += step
    }
  } catch {
    // not JSON: no model
  }
  return model
}
