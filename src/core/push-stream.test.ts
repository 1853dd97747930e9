import { describe, expect, it } from 'vitest'
import { pushStream } from './push-stream.ts'

const read = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('pushStream', () => {
  it('yields what is pushed, then the last value; starts only when read', async () => {
    let started = 0
    const s = pushStream<number>(async (push) => {
      started++
      push(1)
      await Promise.resolve()
      push(2)
      return 3
    })
    expect(started).toBe(0)
    expect(await read(s)).toEqual([1, 2, 3])
    expect(started).toBe(1)
  })

  it('throws the producer error after the items pushed before it', async () => {
    const s = pushStream<number>(async (push) => {
      push(1)
      throw new Error('boom')
    })
    const seen: number[] = []
    await expect(
      (async () => {
        for await (const x of s) seen.push(x)
      })(),
    ).rejects.toThrow('boom')
    expect(seen).toEqual([1])
  })

  it('aborts the producer when the reader stops, and ends at once when the signal aborts', async () => {
    let aborted: AbortSignal | undefined
    const forever = pushStream<number>(async (push, signal) => {
      aborted = signal
      push(1)
      await new Promise((resolve) => signal.addEventListener('abort', resolve))
      throw new Error('not seen: the reader left')
    })
    for await (const x of forever) {
      expect(x).toBe(1)
      break
    }
    expect(aborted?.aborted).toBe(true)

    const outside = new AbortController()
    const waiting = pushStream<number>(() => new Promise(() => undefined), outside.signal)
    const next = waiting[Symbol.asyncIterator]().next()
    outside.abort()
    expect(await next).toEqual({ value: undefined, done: true })
  })
})
