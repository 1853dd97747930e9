import type { Hono } from 'hono'
import type { EventFeed } from '../core/events.ts'
import type { AppEnv } from './auth.ts'
import { principalOf } from './auth.ts'
import { ForbiddenError } from '../core/errors.ts'
import type { SseStreams } from './sse.ts'
import { ReplayFeed } from './replay-feed.ts'

export type { EventFeed } from '../core/events.ts'

/**
 * `GET /v1/events`: server-sent events, one per spawner event (`event:` is its type, `id:` its
 * place). `?worker=ID` keeps one worker's events; `?type=output,status` keeps some types. A
 * client that reconnects with `Last-Event-ID` (browsers' EventSource does) first gets what it
 * missed, as far as the last 10,000 events reach; when they do not, an `event: gap` says so. A
 * client that falls too far behind is dropped (see SseStreams).
 */
export const registerEventRoute = (
  app: Hono<AppEnv>,
  feed: EventFeed,
  streams: SseStreams,
  heartbeatMs = 15_000,
) => {
  const replay = new ReplayFeed(feed)
  app.get('/v1/events', (c) => {
    // Events carry every worker's output: operators only.
    if (principalOf(c).kind !== 'operator')
      throw new ForbiddenError('the event stream is for operators')
    const worker = c.req.query('worker')
    const types = c.req.query('type')?.split(',').filter(Boolean)
    const lastId = c.req.header('last-event-id') ?? c.req.query('lastEventId')
    return streams.respond(c, async (sse) => {
      // Said before the replay: what follows is not all that was missed.
      if (lastId !== undefined && !replay.resumable(lastId)) {
        sse.send({ event: 'gap', data: JSON.stringify({ after: lastId }) })
      }
      const unsubscribe = replay.subscribe(({ id, event }) => {
        if (worker && event.workerId !== worker) return
        if (types && !types.includes(event.type)) return
        sse.send({ event: event.type, data: JSON.stringify(event), id })
      }, lastId)
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
