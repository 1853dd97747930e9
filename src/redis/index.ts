import { Redis } from 'ioredis'
import type { Logger } from '../core/logger.ts'
import type { WorkerService } from '../core/service.ts'
import { RedisConsumer } from './consumer.ts'
import { RedisEventFeed, publishEvents, trackOwnership, type EventPublisher } from './events.ts'
import { redisNames, type RedisSettings } from './settings.ts'
import { RedisForwarder } from './forwarder.ts'
import type { Forwarder as Remote } from '../core/dispatcher.ts'

export { redisSettingsSchema, redisNames, type RedisSettings, type RedisNames } from './settings.ts'
export { RedisConsumer } from './consumer.ts'

/** The Redis side of one instance: consumer, event publisher, ownership, event feed. */
export interface RedisAdapter {
  consumer: RedisConsumer
  /** The event publisher's buffer (bytes waiting for Redis, output events dropped). */
  publisher: EventPublisher
  feed: RedisEventFeed
  /** Finds the owners of workers and forwards HTTP requests for other instances' workers to them. */
  remote: Remote
  redis: Redis
  close(): Promise<void>
}

/**
 * Connects to `REDIS_URL`, starts serving the command stream and publishing events.
 * @example
 * const adapter = await startRedisAdapter({ settings, service, instance: 'a', logger })
 * process.on('SIGTERM', () => adapter.close())
 */
export const startRedisAdapter = async (opts: {
  settings: RedisSettings
  service: WorkerService
  instance: string
  logger: Logger
  shutdownMs?: number
}): Promise<RedisAdapter> => {
  const redis = new Redis(opts.settings.REDIS_URL, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
  })
  // Connection trouble is logged once per kind; ioredis reconnects by itself.
  let lastError = ''
  redis.on('error', (err: Error) => {
    if (err.message === lastError) return
    lastError = err.message
    opts.logger.warn('redis connection error', { error: err.message })
  })
  redis.on('ready', () => (lastError = ''))
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    throw new Error(lastError || (err as Error).message)
  }
  const names = redisNames(opts.settings)
  const publisher = publishEvents(opts.service.events, redis, names, {
    maxLen: opts.settings.REDIS_EVENT_LOG_MAXLEN,
    maxBufferBytes: opts.settings.REDIS_EVENT_BUFFER_BYTES,
    logger: opts.logger,
  })
  const stopOwners = trackOwnership(opts.service.events, redis, names, opts.instance, opts.logger)
  const subscriber = redis.duplicate()
  subscriber.on('error', () => undefined)
  const feed = new RedisEventFeed(subscriber, names.events, opts.logger)
  await feed.start()
  // One forwarder for both protocols: the consumer finds owners with it, HTTP forwards through it.
  const forwarder = new RedisForwarder(redis, names, opts.instance, opts.logger, feed)
  const consumer = new RedisConsumer({
    redis,
    service: opts.service,
    settings: opts.settings,
    instance: opts.instance,
    logger: opts.logger,
    forwarder,
    ...(opts.shutdownMs ? { shutdownMs: opts.shutdownMs } : {}),
  })
  await consumer.run()
  let closing: Promise<void> | undefined
  return {
    consumer,
    publisher,
    feed,
    remote: forwarder,
    redis,
    close() {
      closing ??= (async () => {
        await consumer.close()
        forwarder.close()
        publisher.stop()
        stopOwners()
        feed.close()
        await redis.quit().catch(() => redis.disconnect())
      })()
      return closing
    },
  }
}
