import type { Redis } from 'ioredis'
import type { EventBus, SpawnerEvent } from '../core/events.ts'
import type { Logger } from '../core/logger.ts'
import type { EventFeed } from '../core/events.ts'
import type { RedisNames } from './settings.ts'

/** The event publisher's buffer, as it stands. */
export interface EventPublisher {
  /** Bytes of events sent to Redis and not yet answered. */
  pendingBytes(): number
  /** `output` events dropped so far because Redis fell behind. */
  dropped(): number
  stop(): void
}

/**
 * Publishes every service event on `<events>:<workerId>` and `<events>`, and appends it to
 * the capped `<eventLog>` stream so a consumer that was away can replay from an offset.
 * Commands on one connection keep their order, so a worker's events arrive in order.
 *
 * Sends are not awaited, so a flood of output (or a slow Redis) would queue without end in
 * the client: past `maxBufferBytes` unanswered, `output` events are dropped (their `seq` shows
 * the gap) and counted; `status`, `response` and `command_exit` always go out.
 */
export const publishEvents = (
  bus: EventBus,
  redis: Redis,
  names: RedisNames,
  opts: { maxLen: number; maxBufferBytes: number; logger: Logger },
): EventPublisher => {
  let pending = 0
  let dropped = 0
  /** Dropped since the last output event that went out. */
  let gap = 0
  const stop = bus.subscribe((event) => {
    const json = JSON.stringify(event)
    // Sent three times: two channels and the log.
    const bytes = 3 * Buffer.byteLength(json)
    // Output, agent updates and build progress are views of a run (its answer holds the
    // result), and a watch's changes may come by the thousand: they go when Redis is behind;
    // every other event always goes out.
    const droppable = ['output', 'agent', 'image_build', 'file_changed'].includes(event.type)
    if (droppable) {
      if (pending + bytes > opts.maxBufferBytes) {
        dropped++
        if (gap++ === 0) {
          const fields = { pendingBytes: pending, limit: opts.maxBufferBytes }
          opts.logger.warn('redis is behind: dropping output events', fields)
        }
        return
      }
      if (gap > 0) {
        opts.logger.warn('output events dropped while redis was behind', {
          dropped: gap,
          total: dropped,
        })
        gap = 0
      }
    }
    pending += bytes
    const pipeline = redis.pipeline()
    // A build of its own (no worker) goes out on the channel of all events only.
    if (event.workerId) pipeline.publish(`${names.events}:${event.workerId}`, json)
    pipeline
      .publish(names.events, json)
      .xadd(
        names.eventLog,
        'MAXLEN',
        '~',
        opts.maxLen,
        '*',
        'type',
        event.type,
        'worker_id',
        event.workerId,
        'event',
        json,
      )
      .exec()
      .catch((err: unknown) =>
        opts.logger.warn('event publish failed', { type: event.type, error: String(err) }),
      )
      .finally(() => (pending -= bytes))
  })
  return { pendingBytes: () => pending, dropped: () => dropped, stop }
}

/**
 * Records which instance owns each worker (`<owners>` hash) from the service's status events:
 * set when a worker starts running here, cleared when it is deleted.
 */
export const trackOwnership = (
  bus: EventBus,
  redis: Redis,
  names: RedisNames,
  instance: string,
  logger: Logger,
) =>
  bus.subscribe((event) => {
    if (event.type !== 'status') return
    const op =
      event.state === 'running' && event.reason === 'request'
        ? redis.hset(names.owners, event.workerId, instance)
        : event.state === 'deleted'
          ? redis.hdel(names.owners, event.workerId)
          : undefined
    op?.catch((err: unknown) =>
      logger.warn('ownership update failed', { workerId: event.workerId, error: String(err) }),
    )
  })

/** Events of every instance, from Redis pub/sub: the source of `GET /v1/events` with Redis on. */
export class RedisEventFeed implements EventFeed {
  private readonly listeners = new Set<(event: SpawnerEvent) => void>()
  private started: Promise<unknown> | undefined

  constructor(
    private readonly subscriber: Redis,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  start(): Promise<unknown> {
    this.started ??= (async () => {
      this.subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.channel) return
        let event: SpawnerEvent
        try {
          event = JSON.parse(message) as SpawnerEvent
        } catch {
          this.logger.warn('unreadable event on the events channel', { channel })
          return
        }
        for (const l of this.listeners) l(event)
      })
      await this.subscriber.subscribe(this.channel)
    })()
    return this.started
  }

  subscribe(listener: (event: SpawnerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  close() {
    this.subscriber.disconnect()
  }
}
