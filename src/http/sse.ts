import type { Context } from 'hono'
import { UnavailableError } from '../core/errors.ts'
import { noopLogger, type Logger } from '../core/logger.ts'

/** One server-sent event. */
export interface SseMessage {
  event: string
  data: string
  id?: string
}

/** The writing end of one event stream, handed to the code that feeds it. */
export interface SseSink {
  /** Queues an event; false once the stream is over (client gone or dropped). */
  send(message: SseMessage): boolean
  /** Queues a comment line (a heartbeat); false once the stream is over. */
  comment(text: string): boolean
  /** Aborts when the client leaves or is dropped for falling behind. */
  readonly signal: AbortSignal
}

/** Limits of the event streams of one listener. */
export interface SseLimits {
  /** Streams open at once; one more is refused with 503 `too_many_streams`. */
  maxStreams: number
  /** Bytes a client may leave unread; at the next event past it, it is dropped. */
  maxQueuedBytes: number
}

/** Event streams one worker may have open at once on a listener. */
export const MAX_STREAMS_PER_WORKER = 8

/** 100 streams, 4 MiB behind. */
export const DEFAULT_SSE_LIMITS: SseLimits = { maxStreams: 100, maxQueuedBytes: 4 * 1024 * 1024 }

const encoder = new TextEncoder()

/** The wire form of an event: `data:` once per line of the data, as the SSE format asks. */
const format = (m: SseMessage): string =>
  `event: ${m.event}\n${m.data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('')}${m.id !== undefined ? `id: ${m.id}\n` : ''}\n`

/** Queues of every open stream in this process, for `sseQueuedBytes`. */
const open = new Set<ReadableStreamDefaultController<Uint8Array>>()

/** Bytes queued for event-stream clients in this process, all listeners together. */
export const sseQueuedBytes = (): number => {
  let total = 0
  for (const controller of open) total += Math.max(0, -(controller.desiredSize ?? 0))
  return total
}

/** Event streams open in this process, all listeners together (the metrics' SSE subscribers). */
export const sseOpenStreams = (): number => open.size

/** The Node response under a request served by @hono/node-server, if that is what serves it. */
const nodeResponse = (c: Context): { destroy(): void } | undefined => {
  const outgoing = (c.env as { outgoing?: { destroy?: unknown } } | undefined)?.outgoing
  return typeof outgoing?.destroy === 'function' ? (outgoing as { destroy(): void }) : undefined
}

/**
 * The event streams of one listener. Each stream's queue is counted in bytes: nothing waits
 * on a slow client, and a client that leaves more than `maxQueuedBytes` unread is dropped
 * (its connection closed, its `signal` aborted, a warning logged), so a stalled reader costs
 * at most that much memory plus one event. At most `maxStreams` are open at once.
 *
 * @example
 * const streams = new SseStreams(DEFAULT_SSE_LIMITS, logger)
 * app.get('/ticks', (c) =>
 *   streams.respond(c, async (sse) => {
 *     while (sse.send({ event: 'tick', data: '{}' })) await nextTick()
 *   }),
 * )
 */
export class SseStreams {
  readonly #limits: SseLimits
  readonly #logger: Logger
  #count = 0
  /** Open streams of each worker, and of all workers together. */
  readonly #byWorker = new Map<string, number>()
  #workers = 0

  constructor(limits: SseLimits = DEFAULT_SSE_LIMITS, logger: Logger = noopLogger) {
    this.#limits = limits
    this.#logger = logger
  }

  /** Streams open now. */
  get count(): number {
    return this.#count
  }

  /**
   * Answers with an event stream that `feed` writes to; the stream ends when `feed` settles.
   * Throws UnavailableError `too_many_streams` (503) when `maxStreams` are open. A stream a
   * worker opens (`worker`, its id) also counts against that worker's own share
   * (`MAX_STREAMS_PER_WORKER`), and workers together never take the fifth of the streams kept
   * for operators: one worker cannot starve the others, nor the operator's `/v1/events`.
   */
  respond(c: Context, feed: (sse: SseSink) => Promise<void>, worker?: string): Response {
    const { maxStreams, maxQueuedBytes } = this.#limits
    if (this.#count >= maxStreams) {
      throw new UnavailableError(
        `${maxStreams} event streams are open, the most this listener serves; try again later`,
        'too_many_streams',
      )
    }
    if (worker !== undefined) {
      const mine = this.#byWorker.get(worker) ?? 0
      const forWorkers = maxStreams - Math.ceil(maxStreams / 5)
      if (mine >= MAX_STREAMS_PER_WORKER || this.#workers >= forWorkers) {
        throw new UnavailableError(
          mine >= MAX_STREAMS_PER_WORKER
            ? `worker '${worker}' already has ${mine} event streams open, the most one worker may have`
            : 'workers have every event stream they may have open; try again later',
          'too_many_streams',
        )
      }
      this.#byWorker.set(worker, mine + 1)
      this.#workers++
    }
    this.#count++
    const abort = new AbortController()
    let controller!: ReadableStreamDefaultController<Uint8Array>
    let over = false
    // Ends the stream once, whichever comes first: the feed's end, the client, a drop.
    const end = (why: 'done' | 'gone' | 'dropped') => {
      if (over) return
      over = true
      open.delete(controller)
      this.#count--
      if (worker !== undefined) {
        this.#workers--
        const left = (this.#byWorker.get(worker) ?? 1) - 1
        if (left > 0) this.#byWorker.set(worker, left)
        else this.#byWorker.delete(worker)
      }
      if (why !== 'done') abort.abort()
      if (why === 'done') controller.close()
    }
    const drop = (queued: number) => {
      this.#logger.warn('event stream dropped: the client fell behind', {
        method: c.req.method,
        path: c.req.path,
        queuedBytes: queued,
        maxQueuedBytes,
      })
      end('dropped')
      // On Node the socket is closed at once, and the queue goes with the stream's cancel.
      // Elsewhere erroring the stream makes the runtime end the response.
      const response = nodeResponse(c)
      if (response) response.destroy()
      else controller.error(new Error('event stream dropped: the client fell behind'))
    }
    const write = (text: string): boolean => {
      if (over) return false
      // desiredSize is minus the bytes queued (high-water mark 0, sizes in bytes).
      const queued = -(controller.desiredSize ?? 0)
      if (queued > maxQueuedBytes) {
        drop(queued)
        return false
      }
      controller.enqueue(encoder.encode(text))
      return true
    }
    const body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c
          open.add(c)
        },
        cancel: () => end('gone'),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
    )
    const sink: SseSink = {
      send: (message) => write(format(message)),
      comment: (text) => write(`: ${text}\n\n`),
      signal: abort.signal,
    }
    void feed(sink)
      .catch((err: unknown) =>
        this.#logger.warn('event stream failed', { path: c.req.path, error: String(err) }),
      )
      .finally(() => end('done'))
    return c.body(body, 200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    })
  }
}
