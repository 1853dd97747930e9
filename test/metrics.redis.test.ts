import { afterAll, describe, expect, it } from 'vitest'
import { noopLogger } from '../src/core/logger.ts'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { createMetrics } from '../src/node/metrics.ts'
import { memoryService } from './support/memory-service.ts'
import { parsePromText, sampleValue } from './support/prom-text.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

describe('metrics of the Redis adapter', () => {
  let adapter: RedisAdapter | undefined
  let producer: Producer | undefined
  afterAll(async () => {
    await adapter?.close()
    await producer?.cleanup()
  })

  it('show the entries pending while a command runs, and the dead letters', async () => {
    const settings = testSettings()
    producer = new Producer(settings)
    const dead = producer.redis.pipeline()
    for (let i = 0; i < 3; i++) dead.xadd(producer.names.dead, '*', 'entry_id', String(i))
    await dead.exec()

    const m = memoryService()
    const { workerId } = await m.create()
    // The command runs until released: its entry stays read and unacknowledged meanwhile.
    let started!: () => void
    let release!: () => void
    const running = new Promise<void>((r) => (started = r))
    const released = new Promise<void>((r) => (release = r))
    m.runtime.onExec = async () => {
      started()
      await released
      return { exitCode: 0, stdout: 'done', stderr: '', timedOut: false, durationMs: 1 }
    }
    adapter = await startRedisAdapter({
      settings,
      service: m.service,
      instance: 'metrics',
      logger: noopLogger,
    })
    const metrics = createMetrics({
      service: m.service,
      redis: adapter,
      instance: 'metrics',
      processMetrics: false,
    })
    const scrape = async () => parsePromText(await metrics.render()).samples

    const requestId = await producer.send('send_command', { workerId, shell: 'sleep' })
    await running
    const during = await scrape()
    expect(sampleValue(during, 'spawner_redis_pending', { stream: 'commands' })).toBe(1)
    expect(sampleValue(during, 'spawner_redis_consumer_lag', { stream: 'commands' })).toBe(0)
    expect(sampleValue(during, 'spawner_redis_dead_letters')).toBe(3)

    release()
    expect((await producer.response(requestId, 30_000)).ok).toBe(true)
    // Acknowledged once answered.
    await waitFor(
      async () =>
        sampleValue(await scrape(), 'spawner_redis_pending', { stream: 'commands' }) === 0,
      30_000,
      'the entry acknowledged',
    )
    const after = await scrape()
    expect(sampleValue(after, 'spawner_commands_total', { type: 'command', outcome: 'ok' })).toBe(1)
    metrics.close()
  })
})
