import type { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { SpawnerEvent } from '../core/events.ts'
import type { AppEnv } from './auth.ts'
import { principalOf } from './auth.ts'
import { ForbiddenError } from '../core/errors.ts'

/** Anything events can be subscribed to: the local bus, or Redis pub/sub across instances. */
export interface EventFeed {
  subscribe(listener: (event: SpawnerEvent) => void): () => void
}

/**
 * `GET /v1/events`: server-sent events, one per spawner event (`event:` is its type).
 * `?worker=ID` keeps one worker's events; `?type=output,status` keeps some types.
 */
export const registerEventRoute = (app: Hono<AppEnv>, feed: EventFeed, heartbeatMs = 15_000) => {
  app.get('/v1/events', (c) => {
    // Events carry every worker's output: operators only.
    if (principalOf(c).kind !== 'operator') throw new ForbiddenError('the event stream is for operators')
    const worker = c.req.query('worker')
    const types = c.req.query('type')?.split(',').filter(Boolean)
    return streamSSE(c, async (stream) => {
      let chain = Promise.resolve()
      const unsubscribe = feed.subscribe((event) => {
        if (worker && event.workerId !== worker) return
        if (types && !types.includes(event.type)) return
        chain = chain.then(() => stream.writeSSE({ event: event.type, data: JSON.stringify(event) }))
      })
      const beat = setInterval(() => {
        chain = chain.then(() => stream.write(': keep-alive\n\n')).then(() => undefined)
      }, heartbeatMs)
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      clearInterval(beat)
      unsubscribe()
    })
  })
}
