import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { startRedisAdapter } from '../../src/redis/index.ts'
import { Producer, testSettings } from '../support/redis.ts'
import { FuzzFailure, Tally, watchCrashes } from './invariants.ts'
import { runProperty, type FuzzOptions } from './property.ts'
import { redisCase } from './redis-cases.ts'
import { recordingLogger, runRedisBatch, type RedisBench } from './redis-run.ts'
import type { FuzzTarget } from './target.ts'

/** Largest payload the fuzzed consumer takes: small, so megabyte values are refused cheaply. */
const MAX_PAYLOAD = 256 * 1024

/**
 * Fuzzes the Redis consumer serving `target`'s service: batches of generated and mutated
 * entries on a fresh key prefix (see redis-cases.ts and redis-run.ts for what is checked), then
 * one valid request, which must still be answered. Returns answers by status and code.
 */
export const fuzzRedis = async (
  target: FuzzTarget,
  opts: FuzzOptions,
  tally = new Tally(),
): Promise<Tally> => {
  const { logger, trouble } = recordingLogger()
  const settings = testSettings({ REDIS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) })
  const adapter = await startRedisAdapter({
    settings,
    service: target.service,
    instance: 'fuzz',
    logger,
  })
  const producer = new Producer(settings)
  const bench: RedisBench = {
    redis: producer.redis,
    names: producer.names,
    ownStream: `fuzz-replies-${randomBytes(4).toString('hex')}`,
  }
  const crashes = watchCrashes()
  try {
    await runProperty(
      'Redis fuzz',
      fc.array(
        redisCase(target.hints, (name, input) => target.constrain(name, input)),
        { minLength: 1, maxLength: 20 },
      ),
      async (batch) => {
        for (const key of await runRedisBatch(bench, batch, await target.workers(), trouble))
          tally.add(key)
        await crashes.check('after a batch of entries')
      },
      opts,
    )
    // The loop still reads: a plain request after all of that is answered.
    const after = await producer.response(await producer.send('plugins', {}), 30_000)
    if (!after.ok)
      throw new FuzzFailure(
        `a valid request after the fuzz was refused: ${JSON.stringify(after.error)}`,
        'plugins {}',
      )
  } finally {
    crashes.stop()
    await adapter.close()
    const own = await producer.redis.keys(`${bench.ownStream}*`)
    if (own.length) await producer.redis.del(...own)
    await producer.cleanup()
  }
  return tally
}
