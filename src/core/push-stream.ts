/**
 * An async iterable fed by a producer that pushes. `start` runs when iteration begins, with
 * `push` and a signal that aborts when the reader stops (`break`, `return()`) or `signal`
 * aborts; iteration then ends at once, whatever the producer still does. The value `start`
 * resolves with, if any, is the last item; its error is thrown after the items pushed before it.
 * Nothing runs until the first `next()`, so a stream never read starts nothing.
 * @example
 * const ticks = pushStream<number>(async (push, signal) => {
 *   for (let i = 0; i < 3 && !signal.aborted; i++) push(i)
 *   return 3
 * })
 * for await (const n of ticks) console.log(n) // 0 1 2 3
 */
export const pushStream = <T>(
  start: (push: (item: T) => void, signal: AbortSignal) => Promise<T | undefined>,
  signal?: AbortSignal,
): AsyncIterable<T> => ({
  [Symbol.asyncIterator](): AsyncIterator<T> {
    const abort = new AbortController()
    const queue: T[] = []
    let started = false
    let settled = false
    let failure: { error: unknown } | undefined
    let wake: (() => void) | undefined
    const onAbort = () => {
      abort.abort()
      wake?.()
    }
    const finish = () => {
      signal?.removeEventListener('abort', onAbort)
      abort.abort()
    }
    const begin = () => {
      started = true
      if (signal?.aborted) abort.abort()
      else signal?.addEventListener('abort', onAbort, { once: true })
      const push = (item: T) => {
        if (abort.signal.aborted) return
        queue.push(item)
        wake?.()
      }
      start(push, abort.signal)
        .then(
          (last) => void (last !== undefined && !abort.signal.aborted && queue.push(last)),
          (error: unknown) => void (failure = { error }),
        )
        .finally(() => {
          settled = true
          wake?.()
        })
    }
    return {
      async next(): Promise<IteratorResult<T>> {
        if (!started) begin()
        for (;;) {
          if (abort.signal.aborted) {
            finish()
            return { value: undefined, done: true }
          }
          if (queue.length > 0) return { value: queue.shift()!, done: false }
          if (settled) {
            finish()
            const f = failure
            failure = undefined
            if (f) throw f.error
            return { value: undefined, done: true }
          }
          await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
        }
      },
      async return(): Promise<IteratorResult<T>> {
        finish()
        queue.length = 0
        return { value: undefined, done: true }
      },
    }
  },
})
