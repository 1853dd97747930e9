import { describeError, UnavailableError, toSpawnerError } from '../core/errors.ts'
import { httpStatusOf } from '../core/http-status.ts'
import { noopLogger, type Logger } from '../core/logger.ts'
import type { StreamLine } from '../remote/wire.ts'

/** Streamed work still running, so a shutdown can wait for it (an aborted exec's kill). */
export class InFlight {
  readonly #work = new Set<Promise<unknown>>()

  add(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    this.#work.add(settled)
    void settled.then(() => this.#work.delete(settled))
  }

  /** Resolves when everything added so far has settled. */
  async settled(): Promise<void> {
    await Promise.all(this.#work)
  }
}

/** Options of `ndjsonResponse`. */
export interface NdjsonOptions {
  /** How long an answer may stay uncommitted waiting for an early error (default 1 s). */
  commitAfterMs?: number
  /** Interval of `{ heartbeat: true }` lines once committed (default 15 s). */
  heartbeatMs?: number
  /** Where the running work is registered. */
  inFlight?: InFlight
  /** Bytes the client may leave unread before the work is stopped (default 16 MiB). */
  maxQueuedBytes?: number
  /** Where a client dropped for falling behind, and a 5xx after the first line, are reported. */
  logger?: Logger
}

/** Default of `NdjsonOptions.maxQueuedBytes`. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024

/** Writes one line of a streamed answer. */
export type Emit = (line: StreamLine) => void

/**
 * Runs `work` and answers with NDJSON: the lines it emits, then `{ result }` (or
 * `{ error, status }`). The status is held back until the first line, the end of the work,
 * or `commitAfterMs`: a failure before any output (no such container, paused) is thrown and
 * becomes an ordinary error answer with its status. While the work is quiet, heartbeat lines
 * keep the connection observably alive. When the client goes away (`signal`, or the body is
 * cancelled), the signal given to `work` aborts. So it does when the client leaves more than
 * `maxQueuedBytes` unread: the answer then ends with an error line (503 `client_too_slow`)
 * and nothing more is queued, so a stalled client holds at most that much memory.
 */
export const ndjsonResponse = async (
  signal: AbortSignal,
  work: (emit: Emit, signal: AbortSignal) => Promise<unknown>,
  opts: NdjsonOptions = {},
): Promise<Response> => {
  const abort = new AbortController()
  const onClientGone = () => abort.abort()
  signal.addEventListener('abort', onClientGone, { once: true })
  const encoder = new TextEncoder()
  const maxQueued = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES
  const pending: Uint8Array[] = []
  let sink: ReadableStreamDefaultController<Uint8Array> | undefined
  let dropped = false
  let commit = () => {}
  const committed = new Promise<'commit'>((resolve) => (commit = () => resolve('commit')))
  const enqueue = (line: StreamLine) => {
    try {
      sink!.enqueue(encoder.encode(`${JSON.stringify(line)}\n`))
    } catch {
      // The client left; the abort above is already on its way.
    }
  }
  const write = (line: StreamLine) => {
    if (dropped) return
    if (!sink) return void pending.push(encoder.encode(`${JSON.stringify(line)}\n`))
    // desiredSize is minus the bytes queued (high-water mark 0, sizes in bytes).
    const queued = -(sink.desiredSize ?? 0)
    if (queued > maxQueued) {
      dropped = true
      ;(opts.logger ?? noopLogger).warn('stream dropped: the client fell behind', {
        queuedBytes: queued,
        maxQueuedBytes: maxQueued,
      })
      abort.abort()
      const e = new UnavailableError(
        `the client left ${queued} bytes unread (limit ${maxQueued}); the stream was stopped`,
        'client_too_slow',
      )
      enqueue({ error: e.toJSON(), status: httpStatusOf(e) })
      return
    }
    enqueue(line)
  }
  const running = work((line) => {
    write(line)
    commit()
  }, abort.signal)
  opts.inFlight?.add(running)
  const settled = running.then(
    () => 'done' as const,
    () => 'failed' as const,
  )
  const timer = setTimeout(commit, opts.commitAfterMs ?? 1000)
  const first = await Promise.race([committed, settled])
  clearTimeout(timer)
  if (first === 'failed' && pending.length === 0) {
    signal.removeEventListener('abort', onClientGone)
    await running // rethrows: answered with the error's own status
  }
  let heartbeat: ReturnType<typeof setInterval> | undefined
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        sink = controller
        for (const bytes of pending.splice(0)) controller.enqueue(bytes)
        heartbeat = setInterval(() => write({ heartbeat: true }), opts.heartbeatMs ?? 15_000)
        running
          .then(
            // The last line may pass the limit: it is bounded by what the work returns.
            (result) => !dropped && enqueue({ result: (result ?? null) as never }),
            (err: unknown) => {
              const e = toSpawnerError(err)
              const status = httpStatusOf(e)
              if (status >= 500) {
                const fields = { code: e.code, error: describeError(err) }
                ;(opts.logger ?? noopLogger).error('streamed answer failed', fields)
              }
              if (!dropped) enqueue({ error: e.toJSON(), status })
            },
          )
          .finally(() => {
            clearInterval(heartbeat)
            signal.removeEventListener('abort', onClientGone)
            try {
              controller.close()
            } catch {
              // Already cancelled by the client.
            }
          })
      },
      cancel() {
        clearInterval(heartbeat)
        abort.abort()
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  )
  return new Response(body, {
    headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
  })
}
