import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { noopLogger } from '../core/logger.ts'
import { onError } from '../hono/errors.ts'
import { MAX_STREAMS_PER_WORKER, SseStreams } from './sse.ts'

describe('event streams shared between workers and operators', () => {
  it('give each worker at most its share, and keep a fifth for operators', async () => {
    const streams = new SseStreams({ maxStreams: 10, maxQueuedBytes: 1024 }, noopLogger)
    const app = new Hono()
    app.onError(onError(noopLogger))
    // Each stream stays open until its client leaves.
    app.get('/s/:who', (c) =>
      streams.respond(
        c,
        (sse) =>
          new Promise<void>((resolve) => sse.signal.addEventListener('abort', () => resolve())),
        c.req.param('who') === 'operator' ? undefined : c.req.param('who'),
      ),
    )
    const open = async (who: string) => {
      const res = await app.request(`/s/${who}`)
      return { status: res.status, close: () => res.body?.cancel() }
    }

    const a = await Promise.all(Array.from({ length: MAX_STREAMS_PER_WORKER }, () => open('w-a')))
    expect(a.map((s) => s.status)).toEqual(Array(MAX_STREAMS_PER_WORKER).fill(200))
    expect((await open('w-a')).status).toBe(503)
    // Workers together stop at 8 of 10: the rest is the operators'.
    expect((await open('w-b')).status).toBe(503)
    const op = await open('operator')
    expect(op.status).toBe(200)
    await a[0]!.close()
    await expect
      .poll(async () => {
        const b = await open('w-b')
        if (b.status === 200) await b.close()
        return b.status
      })
      .toBe(200)
    // Seven of a's, and the operator's.
    expect(streams.count).toBe(MAX_STREAMS_PER_WORKER)
  })
})
