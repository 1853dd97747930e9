import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { EventBus, type SpawnerEvent } from '../src/core/events.ts'
import type { Logger } from '../src/core/logger.ts'
import { publishEvents } from '../src/redis/events.ts'
import { redisNames } from '../src/redis/settings.ts'
import { startPrivateRedis, waitFor, type PrivateRedis } from './support/redis.ts'

describe('events while Redis is not answering', () => {
  let server: PrivateRedis | undefined
  const clients: Redis[] = []
  afterAll(async () => {
    server?.thaw()
    for (const c of clients) c.disconnect()
    await server?.stop()
  })

  it('drop output past the buffer limit, and still deliver every other event', async () => {
    server = await startPrivateRedis()
    const redis = new Redis(server.url)
    clients.push(redis)
    await redis.ping()
    const names = redisNames({ REDIS_PREFIX: 'buffer-test' })
    const warnings: { msg: string; fields?: object }[] = []
    const logger: Logger = {
      debug() {},
      info() {},
      error() {},
      warn: (msg, fields) => void warnings.push({ msg, fields }),
    }
    const limit = 256 * 1024
    const bus = new EventBus()
    const publisher = publishEvents(bus, redis, names, {
      maxLen: 100_000,
      maxBufferBytes: limit,
      logger,
    })

    const at = new Date().toISOString()
    const base = { workerId: 'w-0123456789abcdef', requestId: 'r-1', at }
    const data = 'x'.repeat(1024)
    const flood = 4000
    server.freeze()
    bus.publish({ ...base, type: 'status', state: 'running', reason: 'request' })
    let highest = 0
    for (let seq = 0; seq < flood; seq++) {
      bus.publish({ ...base, type: 'output', stream: 'stdout', data, seq })
      highest = Math.max(highest, publisher.pendingBytes())
    }
    bus.publish({ ...base, type: 'response', reply: { text: 'done', raw: null } })
    bus.publish({ ...base, type: 'command_exit', exitCode: 0, timedOut: false, durationMs: 5 })
    // One more output chunk after the flood shows Redis caught up.
    server.thaw()
    await waitFor(() => publisher.pendingBytes() === 0 || undefined, 30_000, 'the buffer to drain')
    bus.publish({ ...base, type: 'output', stream: 'stdout', data: 'after', seq: flood })
    await waitFor(() => publisher.pendingBytes() === 0 || undefined, 30_000, 'the last chunk')

    const log = (await redis.xrange(names.eventLog, '-', '+')).map(
      ([, f]) => JSON.parse(f[5]!) as SpawnerEvent,
    )
    const output = log.filter((e) => e.type === 'output')
    // What went out while Redis was frozen fit in the buffer; the rest was dropped and counted.
    const perEvent =
      3 *
      Buffer.byteLength(
        JSON.stringify({ ...base, type: 'output', stream: 'stdout', data, seq: 1000 }),
      )
    expect(output.length - 1).toBeLessThanOrEqual(Math.ceil(limit / perEvent))
    expect(highest).toBeLessThanOrEqual(limit)
    expect(publisher.dropped()).toBe(flood + 1 - output.length)
    expect(log.map((e) => e.type).filter((t) => t !== 'output')).toEqual([
      'status',
      'response',
      'command_exit',
    ])
    expect(output.at(-1)).toMatchObject({ data: 'after', seq: flood })
    expect(
      warnings.find((w) => w.msg === 'output events dropped while redis was behind')?.fields,
    ).toMatchObject({
      dropped: publisher.dropped(),
    })
  })
})
