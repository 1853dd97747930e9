import { afterEach, describe, expect, it } from 'vitest'
import { SpawnerError } from '../src/core/errors.ts'
import type { Logger } from '../src/core/logger.ts'
import type { ContainerRuntime } from '../src/core/runtime.ts'
import { WorkerService } from '../src/core/service.ts'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { registryWith } from './support/harness.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

const SECRET = 'sk-live-0123456789 in /srv/spawner/.env'

/** A logger that keeps what it is given. */
const recorder = () => {
  const lines: { msg: string; fields: Record<string, unknown> }[] = []
  const keep = (msg: string, fields?: object) =>
    void lines.push({ msg, fields: { ...(fields as Record<string, unknown>) } })
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep }
  return { logger, lines }
}

/** A Docker host whose every call throws `err`. */
const throwing = (err: unknown) =>
  new Proxy({} as ContainerRuntime, {
    get: () => async () => {
      throw err
    },
  })

describe("an error's cause over Redis", () => {
  let adapter: RedisAdapter | undefined
  let producer: Producer | undefined
  afterEach(async () => {
    await adapter?.close()
    await producer?.cleanup()
    adapter = producer = undefined
  })

  const start = async (err: unknown, overrides: Record<string, string> = {}) => {
    const settings = testSettings(overrides)
    producer = new Producer(settings)
    const { logger, lines } = recorder()
    const registry = await registryWith()
    const service = new WorkerService({
      runtime: throwing(err),
      plugins: () => registry,
      baseImage: 'img',
      hostEnv: {},
    })
    adapter = await startRedisAdapter({ settings, service, instance: 'causes', logger })
    return { producer, lines }
  }

  it('is not in the answer to a 5xx, and is in the log', async () => {
    const cause = new Error(`engine said: ${SECRET}`)
    const { producer, lines } = await start(
      new SpawnerError('docker_error', 'docker: refused', { cause }),
    )
    const requestId = await producer.send('status', { workerId: 'w-0123456789abcdef' })
    const answer = await producer.response(requestId, 30_000)
    expect(answer.error).toEqual({ code: 'docker_error', message: 'docker: refused' })
    expect(answer.fields.status).toBe('502')
    expect(JSON.stringify(answer.fields)).not.toContain('sk-live')
    const logged = lines.find((l) => l.msg === 'request failed')
    expect(logged?.fields).toMatchObject({
      requestId,
      code: 'docker_error',
      error: `docker: refused ← engine said: ${SECRET}`,
    })
  })

  it('of an internal error is in neither answer nor dead stream, only the log', async () => {
    const { producer, lines } = await start(new Error(SECRET), {
      REDIS_MAX_ATTEMPTS: '1',
      REDIS_CLAIM_IDLE_MS: '300',
    })
    const requestId = await producer.send('status', { workerId: 'w-0123456789abcdef' })
    const answer = await producer.response(requestId, 30_000)
    expect(answer.error?.code).toBe('dead_lettered')
    expect(JSON.stringify(answer.fields)).not.toContain('sk-live')
    const dead = await waitFor(
      async () => {
        const rows = await producer.redis.xrange(producer.names.dead, '-', '+')
        return rows.find(([, flat]) => flat.includes(requestId))
      },
      10_000,
      'dead entry',
    )
    expect(dead[1].join(' ')).not.toContain('sk-live')
    const logged = lines.find((l) => l.msg === 'request failed; it will be retried')
    const error = `internal error ← ${SECRET}`
    expect(logged?.fields).toMatchObject({ code: 'internal', error })
  })
})
