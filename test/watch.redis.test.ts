import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SpawnerEvent } from '../src/core/events.ts'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { startHarness, type Harness } from './support/harness.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

type FileChanged = Extract<SpawnerEvent, { type: 'file_changed' }>

/**
 * `watch` over Redis: a command on the commands stream that publishes the worker's changes as
 * `file_changed` events (its channel, the shared one, the event log) while the worker's other
 * requests go on, and is answered once, when the watch ends.
 */
describe('watching files over Redis', () => {
  let h: Harness
  let adapter: RedisAdapter
  let producer: Producer

  beforeAll(async () => {
    h = await startHarness()
    // One request at a time: a watch, which waits rather than works, must leave that slot free.
    const settings = testSettings({ REDIS_CONCURRENCY: '1' })
    adapter = await startRedisAdapter({
      settings,
      service: h.service,
      instance: 'solo',
      logger: h.logger,
    })
    producer = new Producer(settings)
  })
  afterAll(async () => {
    await adapter?.close()
    await producer?.cleanup()
    await h?.cleanup()
  })

  const create = async () =>
    (await producer.call('create', { config: { agent: 'shell', labels: h.runLabel } }))
      .workerId as string
  const shell = async (workerId: string, line: string) => {
    const result = await producer.call('send_command', { workerId, shell: line })
    expect(result.exitCode, result.stderr).toBe(0)
  }

  it('publishes file_changed events while the worker takes other commands, and answers once when it ends', async () => {
    const workerId = await create()
    const channel = await producer.listen(`${producer.names.events}:${workerId}`)
    const requestId = await producer.send('watch', {
      workerId,
      path: '/workspace',
      durationMs: 3_600_000,
    })
    const changes = () =>
      channel.events.filter(
        (e): e is FileChanged => e.type === 'file_changed' && e.requestId === requestId,
      )
    // The watch starts a little after it is asked for: probe files until one is seen. Each
    // probe is a command on the same worker, which the running watch must not hold up.
    const probe = `/workspace/.probe-${randomBytes(3).toString('hex')}-`
    for (let i = 0; !changes().some((e) => e.path?.startsWith(probe)); i++) {
      if (i === 1000) throw new Error('no probe file was ever reported')
      await shell(workerId, `touch ${probe}${i}`)
    }

    const file = '/workspace/notes.md'
    await shell(workerId, `printf one > ${file}`)
    const created = await waitFor(
      () => changes().find((e) => e.change === 'created' && e.path === file),
      60_000,
      'the created event',
    )
    expect(created).toMatchObject({ type: 'file_changed', workerId, dir: false })
    await shell(workerId, `printf ' two three four' >> ${file}`)
    await waitFor(
      () => changes().find((e) => e.change === 'changed' && e.path === file),
      60_000,
      'the changed event',
    )
    await shell(workerId, `rm ${file}`)
    await waitFor(
      () => changes().find((e) => e.change === 'deleted' && e.path === file),
      60_000,
      'the deleted event',
    )
    // The same events went to the capped event log, for consumers that were away.
    const log = await producer.redis.xrange(producer.names.eventLog, '-', '+')
    expect(log.map(([, f]) => f[1])).toContain('file_changed')

    // Not answered while it runs; answered once when the worker goes.
    expect((await producer.responses()).some((r) => r.requestId === requestId)).toBe(false)
    await producer.call('delete', { workerId })
    const answer = await producer.response(requestId)
    expect(answer.ok, JSON.stringify(answer.error)).toBe(true)
    expect(answer.result).toMatchObject({ workerId, path: '/workspace', ended: 'worker_gone' })
    expect(answer.result.changes).toBeGreaterThanOrEqual(3)
    // A later request is answered after it, and the watch has no second answer.
    await producer.call('plugins', {})
    expect((await producer.responses()).filter((r) => r.requestId === requestId)).toHaveLength(1)
    channel.stop()
  })

  it('ends at durationMs with one answer, and refuses a path outside the roots', async () => {
    const workerId = await create()
    const result = await producer.call('watch', { workerId, durationMs: 1 })
    expect(result).toMatchObject({ workerId, path: '/workspace', ended: 'duration' })

    const requestId = await producer.send('watch', { workerId, path: '/etc' })
    const refused = await producer.response(requestId)
    expect(refused.ok).toBe(false)
    expect(refused.error).toMatchObject({ code: 'path_not_allowed' })
    const tooLong = await producer.response(
      await producer.send('watch', { workerId, durationMs: 24 * 3_600_000 }),
    )
    expect(tooLong.error).toMatchObject({ code: 'bad_request' })
  })
})
