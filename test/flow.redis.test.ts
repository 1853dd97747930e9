import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { startHarness, type Harness } from './support/harness.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

describe('the original flow over Redis only', () => {
  let h: Harness
  let adapter: RedisAdapter
  let producer: Producer
  let workerId: string

  beforeAll(async () => {
    h = await startHarness()
    const settings = testSettings({ REDIS_MAX_PAYLOAD_BYTES: '65536' })
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

  it('creates a shell worker', async () => {
    const result = await producer.call('create', { config: { agent: 'shell', labels: h.runLabel } })
    expect(result).toMatchObject({ status: 'running' })
    workerId = result.workerId
    expect(await producer.redis.hget(producer.names.owners, workerId)).toBe('solo')
  })

  it('runs a command: a response on the stream and output / command_exit events on pub/sub', async () => {
    const perWorker = await producer.listen(`${producer.names.events}:${workerId}`)
    const all = await producer.listen(producer.names.events)
    const requestId = await producer.send('send_command', {
      workerId,
      shell: 'for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; sleep 0.05; done; exit 4',
    })
    const response = await producer.response(requestId)
    expect(response.ok).toBe(true)
    expect(response.result).toMatchObject({ exitCode: 4, stdout: 'out1\nout2\nout3\nout4\nout5\n' })
    await waitFor(
      () => perWorker.events.some((e) => e.type === 'command_exit') || undefined,
      5000,
      'command_exit',
    )
    const mine = perWorker.events.filter((e) => 'requestId' in e && e.requestId === requestId)
    const output = mine.filter((e) => e.type === 'output')
    expect(output.map((e) => (e.type === 'output' ? e.seq : -1))).toEqual(output.map((_, i) => i))
    const stdout = output
      .flatMap((e) => (e.type === 'output' && e.stream === 'stdout' ? [e.data] : []))
      .join('')
    expect(stdout).toBe('out1\nout2\nout3\nout4\nout5\n')
    expect(mine.at(-1)).toMatchObject({
      type: 'command_exit',
      exitCode: 4,
      timedOut: false,
      workerId,
    })
    await waitFor(
      () => all.events.some((e) => e.type === 'command_exit') || undefined,
      5000,
      'events on the shared channel',
    )
    perWorker.stop()
    all.stop()
    // The same events were appended to the capped log, for consumers that were away.
    const log = await producer.redis.xrange(producer.names.eventLog, '-', '+')
    const types = log.map(([, f]) => f[1])
    expect(types).toContain('output')
    expect(types).toContain('command_exit')
  })

  it('sends a prompt to the agent and publishes its response event', async () => {
    const events = await producer.listen(`${producer.names.events}:${workerId}`)
    const result = await producer.call('send_command', { workerId, prompt: 'echo 12' })
    expect(result.reply.text).toBe('12')
    await waitFor(() => events.events.find((e) => e.type === 'response'), 5000, 'response event')
    expect(events.events.find((e) => e.type === 'response')).toMatchObject({
      reply: { text: '12' },
    })
    events.stop()
  })

  it('writes and reads a file, reports status and logs', async () => {
    const content = Buffer.from([0, 1, 2, 253, 254, 255]).toString('base64')
    expect(
      await producer.call('send_file', {
        workerId,
        path: '/workspace/x.bin',
        content,
        encoding: 'base64',
      }),
    ).toEqual({
      path: '/workspace/x.bin',
      size: 6,
    })
    const read = await producer.call('read_file', { workerId, path: '/workspace/x.bin' })
    expect(read).toMatchObject({ encoding: 'base64', content, size: 6 })
    const status = await producer.call('status', { workerId })
    expect(status).toMatchObject({ workerId, state: 'running', agent: 'shell' })
    const logs = await producer.call('logs', { workerId, tail: 10 })
    expect(logs.lines.map((l: { text: string }) => l.text)).toContain('workers-spawner: ready')
  })

  it('answers errors with ok 0 and the same codes as HTTP', async () => {
    const missing = await producer.response(
      await producer.send('status', { workerId: 'w-00000000deadbeef' }),
    )
    expect(missing).toMatchObject({ ok: false, error: { code: 'worker_not_found' } })
    const bad = await producer.response(
      await producer.send('create', { config: { agent: 'shell', colour: 1 } }),
    )
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad_request' } })
    expect(bad.error?.message).toMatch(/colour/)
  })

  it('deletes the worker and clears its ownership', async () => {
    expect(await producer.call('delete', { workerId })).toEqual({
      workerId,
      deleted: true,
      children: [],
    })
    expect(await producer.redis.hget(producer.names.owners, workerId)).toBeNull()
    expect(await h.containers()).toEqual([])
  })

  it('answers on reply_to when given', async () => {
    // A stream of the producer's own, outside the service's prefix.
    const mine = `${producer.settings.REDIS_PREFIX}-app:my-replies`
    const requestId = await producer.send('plugins', {}, undefined, ['reply_to', mine])
    const replies = await waitFor(
      async () => {
        const rows = await producer.redis.xrange(mine, '-', '+')
        return rows.length ? rows : undefined
      },
      10_000,
      'reply_to stream',
    )
    await producer.redis.del(mine)
    expect(replies[0]![1]).toContain(requestId)
  })
})

describe('delivery guarantees', () => {
  let h: Harness
  let adapter: RedisAdapter
  let producer: Producer

  beforeAll(async () => {
    h = await startHarness()
    const settings = testSettings({ REDIS_MAX_PAYLOAD_BYTES: '2048' })
    adapter = await startRedisAdapter({
      settings,
      service: h.service,
      instance: 'one',
      logger: h.logger,
    })
    producer = new Producer(settings)
  })
  afterAll(async () => {
    await adapter?.close()
    await producer?.cleanup()
    await h?.cleanup()
  })

  it('a repeated request_id runs once and gets two identical answers', async () => {
    const { workerId } = await producer.call('create', {
      config: { agent: 'shell', labels: h.runLabel },
    })
    const payload = { workerId, shell: 'echo run >> /workspace/count; wc -l < /workspace/count' }
    await producer.send('send_command', payload, 'same-id')
    await producer.send('send_command', payload, 'same-id')
    const answers = await waitFor(
      async () => {
        const mine = (await producer.responses()).filter((r) => r.requestId === 'same-id')
        return mine.length === 2 ? mine : undefined
      },
      30_000,
      'two answers',
    )
    expect(answers[0]!.fields).toEqual(answers[1]!.fields)
    expect(answers[0]!.result.stdout).toBe('1\n')
    const count = await producer.call('send_command', {
      workerId,
      shell: 'wc -l < /workspace/count',
    })
    expect(count.stdout).toBe('1\n')
    // Later still: the stored answer, not a new run.
    const third = await producer.response(
      await producer.send('send_command', payload, 'same-id').then(async (id) => {
        await waitFor(
          async () =>
            (await producer.responses()).filter((r) => r.requestId === id).length === 3 ||
            undefined,
          10_000,
          'third answer',
        )
        return id
      }),
    )
    expect(third.fields).toEqual(answers[0]!.fields)
  })

  it('1,000 malformed entries mixed with valid ones: every one answered, the loop keeps reading', async () => {
    const before = (await producer.responses()).length
    const malformed: string[][] = [
      ['command', 'plugins', 'payload', '{}'],
      ['request_id', 'has space', 'command', 'plugins'],
      ['request_id', 'x1', 'command', 'no_such_command', 'payload', '{}'],
      ['request_id', 'x2', 'command', 'status', 'payload', '{not json'],
      ['request_id', 'x3', 'command', 'status', 'payload', '[1,2]'],
      ['request_id', 'x4', 'command', 'status', 'payload', JSON.stringify({ workerId: 'nope' })],
      [
        'request_id',
        'x5',
        'command',
        'send_command',
        'payload',
        JSON.stringify({ pad: 'x'.repeat(4096) }),
      ],
      ['request_id', 'x6'],
      [
        'request_id',
        'x7',
        'command',
        'create',
        'payload',
        JSON.stringify({ config: { agent: 'shell', capabilities: 'git' } }),
      ],
      ['garbage', '\u0000\u00ff'],
    ]
    const valid: string[] = []
    const bad: string[] = []
    const pipe = producer.redis.pipeline()
    for (let i = 0; i < 1000; i++) {
      const m = malformed[i % malformed.length]!.map((v) =>
        v.startsWith('x') && v.length < 3 ? `${v}-${i}` : v,
      )
      pipe.xadd(producer.names.commands, '*', ...m)
      bad.push(m[1]!)
      if (i % 20 === 0) {
        const id = `valid-${i}`
        valid.push(id)
        pipe.xadd(
          producer.names.commands,
          '*',
          'request_id',
          id,
          'command',
          'plugins',
          'payload',
          '{}',
        )
      }
    }
    await pipe.exec()
    const all = await waitFor(
      async () => {
        const rs = await producer.responses()
        return rs.length - before >= 1000 + valid.length ? rs.slice(before) : undefined
      },
      90_000,
      'all answers',
    )
    expect(all).toHaveLength(1000 + valid.length)
    const okOnes = all.filter((r) => r.ok)
    expect(okOnes.map((r) => r.requestId).sort()).toEqual([...valid].sort())
    for (const r of all.filter((x) => !x.ok)) {
      expect(['bad_request', 'payload_too_large']).toContain(r.error?.code)
      expect(r.error?.message.length).toBeGreaterThan(5)
    }
    expect(all.filter((r) => r.error?.code === 'payload_too_large').length).toBe(100)
    // No request_id, an invalid one, or no fields we know: answered by entry id.
    expect(all.filter((r) => !r.requestId).length).toBe(300)
    expect(all.filter((r) => !r.requestId).every((r) => r.fields.entry_id)).toBe(true)
    const pending = (await producer.redis.xpending(
      producer.names.commands,
      adapter.consumer.names.group,
    )) as [number]
    expect(pending[0]).toBe(0)
    // Still reading.
    expect((await producer.call('plugins', {})).plugins.length).toBeGreaterThan(0)
  })
})
