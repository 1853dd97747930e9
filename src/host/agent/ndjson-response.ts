import { toSpawnerError } from '../../core/errors.ts'
import type { StreamLine } from './wire.ts'

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
}

/** Writes one line of a streamed answer. */
export type Emit = (line: StreamLine) => void

/**
 * Runs `work` and answers with NDJSON: the lines it emits, then `{ result }` (or
 * `{ error, status }`). The status is held back until the first line, the end of the work,
 * or `commitAfterMs`: a failure before any output (no such container, paused) is thrown and
 * becomes an ordinary error answer with its status. While the work is quiet, heartbeat lines
 * keep the connection observably alive. When the client goes away (`signal`, or the body is
 * cancelled), the signal given to `work` aborts.
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
  const pending: Uint8Array[] = []
  let sink: ReadableStreamDefaultController<Uint8Array> | undefined
  let commit = () => {}
  const committed = new Promise<'commit'>((resolve) => (commit = () => resolve('commit')))
  const write = (line: StreamLine) => {
    const bytes = encoder.encode(`${JSON.stringify(line)}\n`)
    if (!sink) return void pending.push(bytes)
    try {
      sink.enqueue(bytes)
    } catch {
      // The client left; the abort above is already on its way.
    }
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
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = controller
      for (const bytes of pending.splice(0)) controller.enqueue(bytes)
      heartbeat = setInterval(() => write({ heartbeat: true }), opts.heartbeatMs ?? 15_000)
      running
        .then(
          (result) => write({ result: (result ?? null) as never }),
          (err: unknown) => {
            const e = toSpawnerError(err)
            write({ error: e.toJSON(), status: e.status })
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
  })
  return new Response(body, {
    headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
  })
}
