import type { Hono } from 'hono'
import type { EventFeed } from '../core/events.ts'
import type { AppEnv } from './auth.ts'
import { principalOf } from './auth.ts'
import { ForbiddenError } from '../core/errors.ts'
import type { SseStreams } from './sse.ts'

export type { EventFeed } from '../core/events.ts'

/**
 * `GET /v1/events`: server-sent events, one per spawner event (`event:` is its type).
 * `?worker=ID` keeps one worker's events; `?type=output,status` keeps some types. A client
 * that falls too far behind is dropped (see SseStreams).
 */
export const registerEventRoute = (
  app: Hono<AppEnv>,
  feed: EventFeed,
  streams: SseStreams,
  heartbeatMs = 15_000,
) => {
  app.get('/v1/events', (c) => {
    // Events carry every worker's output: operators only.
    if (principalOf(c).kind !== 'operator')
      throw new ForbiddenError('the event stream is for operators')
    const worker = c.req.query('worker')
    const types = c.req.query('type')?.split(',').filter(Boolean)
    return streams.respond(c, async (sse) => {
      const unsubscribe = feed.subscribe((event) => {
        if (worker && event.workerId !== worker) return
        if (types && !types.includes(event.type)) return
        sse.send({ event: event.type, data: JSON.stringify(event) })
      })
      const beat = setInterval(() => sse.comment('keep-alive'), heartbeatMs)
      await new Promise<void>((resolve) => {
        if (sse.signal.aborted) resolve()
        sse.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      clearInterval(beat)
      unsubscribe()
    })
  })
}
