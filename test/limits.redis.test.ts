import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { startHarness, type Harness } from './support/harness.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

describe('answer size and reply_to', () => {
  let h: Harness
  let adapter: RedisAdapter
  let producer: Producer
  let workerId: string
  const maxAnswer = 1024 * 1024
  const ownStream = () => `${producer.settings.REDIS_PREFIX}-app:answers`

  beforeAll(async () => {
    h = await startHarness()
    const settings = testSettings({ REDIS_MAX_ANSWER_BYTES: String(maxAnswer) })
    adapter = await startRedisAdapter({
      settings,
      service: h.service,
      instance: 'limits',
      logger: h.logger,
    })
    producer = new Producer(settings)
    workerId = (await producer.call('create', { config: { agent: 'shell', labels: h.runLabel } }))
      .workerId
  })
  afterAll(async () => {
    await adapter?.close()
    await producer?.redis.del(ownStream())
    await producer?.cleanup()
    await h?.cleanup()
  })

  it('cuts the output of a command to fit the answer, and says so', async () => {
    // 600,000 control characters: six bytes each once JSON-escaped, 3.6 MB in all.
    const requestId = await producer.send('send_command', {
      workerId,
      shell: "head -c 600000 /dev/zero | tr '\\0' '\\1'; echo tail >&2",
    })
    const answer = await producer.response(requestId)
    expect(answer.ok).toBe(true)
    expect(answer.result).toMatchObject({ exitCode: 0, truncated: true, stderr: 'tail\n' })
    expect(answer.result.stdout).toMatch(/^\x01+$/)
    expect(Buffer.byteLength(answer.fields.result!)).toBeLessThanOrEqual(maxAnswer)
    // The stored copy (the fields JSON-encoded once more) is the larger one: it fills the limit.
    const stored = await producer.redis.strlen(producer.names.answer(requestId))
    expect(stored).toBeLessThanOrEqual(maxAnswer + 512)
    expect(stored).toBeGreaterThan(maxAnswer - 512)
  })

  it('refuses a read too large for an answer with payload_too_large', async () => {
    await producer.call('send_command', {
      workerId,
      shell: 'head -c 900000 /dev/urandom > /workspace/big',
    })
    const answer = await producer.response(
      await producer.send('read_file', { workerId, path: '/workspace/big' }),
    )
    expect(answer).toMatchObject({
      ok: false,
      error: { code: 'payload_too_large' },
      fields: { status: '413' },
    })
    expect(answer.error?.message).toMatch(/smaller file/)
    // A read that fits is answered.
    await producer.call('send_command', {
      workerId,
      shell: 'head -c 600000 /dev/urandom > /workspace/small',
    })
    expect((await producer.call('read_file', { workerId, path: '/workspace/small' })).size).toBe(
      600_000,
    )
  })

  it("refuses a reply_to that names the service's own streams or keys", async () => {
    const p = producer.settings.REDIS_PREFIX
    const refused = [
      producer.names.commands,
      producer.names.eventLog,
      producer.names.dead,
      producer.names.owners,
      `${p}:answer:x`,
      `${p}:anything`,
    ]
    const ids: string[] = []
    for (const name of refused)
      ids.push(await producer.send('plugins', {}, undefined, ['reply_to', name]))
    for (const [k, id] of ids.entries()) {
      // Answered on the responses stream, not on the stream it named.
      const answer = await producer.response(id)
      expect(answer).toMatchObject({ ok: false, error: { code: 'bad_request' } })
      expect(answer.error?.message).toContain('reply_to')
      expect(answer.error?.message).toContain(refused[k])
    }
    // No answer landed anywhere else.
    for (const stream of [producer.names.commands, producer.names.eventLog]) {
      const answers = (await producer.redis.xrange(stream, '-', '+')).filter(([, f]) =>
        f.includes('ok'),
      )
      expect({ stream, answers }).toEqual({ stream, answers: [] })
    }
    expect(await producer.redis.exists(producer.names.dead, `${p}:answer:x`, `${p}:anything`)).toBe(
      0,
    )
    expect(await producer.redis.type(producer.names.owners)).toBe('hash')
  })

  it("answers on the producer's own stream and on the responses stream", async () => {
    const mine = await producer.send('plugins', {}, undefined, ['reply_to', ownStream()])
    const rows = await waitFor(
      async () => {
        const r = await producer.redis.xrange(ownStream(), '-', '+')
        return r.length ? r : undefined
      },
      10_000,
      'an answer on the own stream',
    )
    expect(rows[0]![1]).toContain(mine)
    const named = await producer.send('plugins', {}, undefined, [
      'reply_to',
      producer.names.responses,
    ])
    expect((await producer.response(named)).ok).toBe(true)
  })

  it("trims what it handled from the instance's own command stream, and nothing else", async () => {
    const own = producer.names.instanceCommands('limits')
    const pipe = producer.redis.pipeline()
    const ids = Array.from({ length: 250 }, (_, i) => `own-${i}`)
    for (const id of ids)
      pipe.xadd(own, '*', 'request_id', id, 'command', 'plugins', 'payload', '{}')
    await pipe.exec()
    await Promise.all(ids.map((id) => producer.response(id)))
    await waitFor(
      async () => (await producer.redis.xlen(own)) <= 100 || undefined,
      30_000,
      'the handled entries trimmed',
    )
    const [pending] = (await producer.redis.xpending(own, adapter.consumer.names.group)) as [number]
    expect(pending).toBe(0)
    // The shared stream is the producers': left as it is.
    expect(await producer.redis.xlen(producer.names.commands)).toBeGreaterThan(0)
  })
})
