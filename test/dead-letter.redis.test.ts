import { noopLogger } from '../src/core/logger.ts'
import { afterAll, describe, expect, it } from 'vitest'
import { UnavailableError } from '../src/core/errors.ts'
import type { ContainerRuntime } from '../src/core/runtime.ts'
import { WorkerService } from '../src/core/service.ts'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { registryWith } from './support/harness.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

/** A Docker host that is down: every call fails as an unreachable engine does. */
const downRuntime = () => {
  let calls = 0
  const runtime = new Proxy({} as ContainerRuntime, {
    get: () => async () => {
      calls++
      throw new UnavailableError('Docker Engine not reachable at unix:///nowhere.sock (ENOENT)')
    },
  })
  return { runtime, calls: () => calls }
}

describe('an entry that keeps failing', () => {
  let adapter: RedisAdapter | undefined
  let producer: Producer | undefined
  afterAll(async () => {
    await adapter?.close()
    await producer?.cleanup()
  })

  it('is retried, then moved to the dead stream with its error and answered once', async () => {
    const settings = testSettings({
      REDIS_CLAIM_IDLE_MS: '300',
      REDIS_MAX_ATTEMPTS: '3',
      REDIS_DEAD_MAXLEN: '10',
    })
    producer = new Producer(settings)
    // Earlier dead letters, more than the cap: the next one trims them.
    const earlier = producer.redis.pipeline()
    for (let i = 0; i < 300; i++)
      earlier.xadd(producer.names.dead, '*', 'stream', 'earlier', 'entry_id', String(i))
    await earlier.exec()
    const { runtime, calls } = downRuntime()
    const registry = await registryWith()
    const service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'img',
      hostEnv: {},
    })
    adapter = await startRedisAdapter({ settings, service, instance: 'sick', logger: noopLogger })

    const requestId = await producer.send('status', { workerId: 'w-0123456789abcdef' })
    const answer = await producer.response(requestId, 30_000)
    expect(answer.ok).toBe(false)
    expect(answer.error?.code).toBe('dead_lettered')
    expect(answer.error?.message).toMatch(/not reachable/)
    expect(calls()).toBe(3)

    const dead = await waitFor(
      async () => {
        const rows = await producer!.redis.xrevrange(producer!.names.dead, '+', '-', 'COUNT', 1)
        return rows[0]?.[1].includes(requestId) ? rows : undefined
      },
      5000,
      'dead entry',
    )
    // Trimmed with MAXLEN ~: whole blocks of entries go, so up to one block more may stay.
    expect(await producer.redis.xlen(producer.names.dead)).toBeLessThanOrEqual(10 + 100)
    const fields = Object.fromEntries(
      dead[0]![1].reduce<[string, string][]>(
        (acc, v, i, all) => (i % 2 ? acc : [...acc, [v, all[i + 1]!]]),
        [],
      ),
    )
    expect(fields.request_id).toBe(requestId)
    expect(fields.command).toBe('status')
    expect(JSON.parse(fields.error!)).toMatchObject({ code: 'unavailable' })
    const [pending] = (await producer.redis.xpending(
      producer.names.commands,
      adapter.consumer.names.group,
    )) as [number]
    expect(pending).toBe(0)
    await new Promise((r) => setTimeout(r, 1000))
    expect((await producer.responses()).filter((r) => r.requestId === requestId)).toHaveLength(1)
  })
})
