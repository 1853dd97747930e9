import Dockerode from 'dockerode'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startRedisAdapter } from '../src/redis/index.ts'
import { createApp } from '../src/http/app.ts'
import { readSseUntil, sseEvents } from './support/sse.ts'
import { registryWith, startHarness, type Harness } from './support/harness.ts'
import { TokenSigner } from '../src/core/auth/jwt.ts'
import { WorkerService } from '../src/core/service.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

describe('several instances on one Redis', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined)
  })

  it('a command for a worker read by the other instance is forwarded to its owner and answered', async () => {
    const settings = testSettings()
    const producer = new Producer(settings)
    const ha = await startHarness()
    const hb = await startHarness()
    const a = await startRedisAdapter({
      settings,
      service: ha.service,
      instance: 'a',
      logger: ha.logger,
    })
    const b = await startRedisAdapter({
      settings,
      service: hb.service,
      instance: 'b',
      logger: hb.logger,
    })
    cleanups.push(
      () => a.close(),
      () => b.close(),
      () => producer.cleanup(),
      () => ha.cleanup(),
      () => hb.cleanup(),
    )

    // Creates are shared: each instance takes some.
    const created = await Promise.all(
      Array.from({ length: 6 }, () =>
        producer.call('create', {
          config: { agent: 'shell', labels: { ...ha.runLabel, ...hb.runLabel } },
        }),
      ),
    )
    const owners = await producer.redis.hgetall(producer.names.owners)
    expect(Object.keys(owners).sort()).toEqual(created.map((c) => c.workerId).sort())

    // Every command is answered by the instance that owns the worker, wherever it was read.
    const sent = created.flatMap((c) =>
      Array.from({ length: 5 }, (_, i) => ({ workerId: c.workerId, i })),
    )
    const ids = await Promise.all(
      sent.map((s) =>
        producer.send('send_command', {
          workerId: s.workerId,
          shell: `echo ${s.i} $WORKERS_SPAWNER_WORKER_ID`,
        }),
      ),
    )
    const answers = await Promise.all(ids.map((id) => producer.response(id)))
    answers.forEach((r, k) => {
      expect(r.ok).toBe(true)
      expect(r.result.stdout).toBe(`${sent[k]!.i} ${sent[k]!.workerId}\n`)
    })
    const forwarded =
      (await producer.redis.xlen(producer.names.instanceCommands('a'))) +
      (await producer.redis.xlen(producer.names.instanceCommands('b')))
    expect(forwarded).toBeGreaterThan(0)
    // The owner ran them: each service saw only commands for its own workers.
    for (const [workerId, owner] of Object.entries(owners)) {
      const service = owner === 'a' ? ha.service : hb.service
      const status = await service.status({ workerId })
      expect(status.workerId).toBe(workerId)
    }
    for (const c of created) await producer.call('delete', { workerId: c.workerId })
    expect(await producer.redis.hlen(producer.names.owners)).toBe(0)
  })
})

describe('HTTP at the instance that does not own the worker', () => {
  it('forwards commands and files to the owner, and /v1/events shows every instance', async () => {
    const settings = testSettings()
    const producer = new Producer(settings)
    const ha = await startHarness()
    const hb = await startHarness()
    const a = await startRedisAdapter({
      settings,
      service: ha.service,
      instance: 'ha',
      logger: ha.logger,
    })
    const b = await startRedisAdapter({
      settings,
      service: hb.service,
      instance: 'hb',
      logger: hb.logger,
    })
    try {
      const appA = createApp({ service: ha.service, remote: a.remote, events: a.feed })
      const appB = createApp({ service: hb.service, remote: b.remote, events: b.feed })
      // Created at B over HTTP: B owns it.
      const created = await appB.request('/v1/workers', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'shell', labels: hb.runLabel }),
      })
      const { workerId } = (await created.json()) as { workerId: string }
      await waitFor(
        async () =>
          (await producer.redis.hget(producer.names.owners, workerId)) === 'hb' || undefined,
        5000,
        'ownership',
      )

      const events = await appA.request(`/v1/events?worker=${workerId}`)
      const forwardedBefore = await producer.redis.xlen(producer.names.instanceCommands('hb'))
      const res = await appA.request(`/v1/workers/${workerId}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ shell: 'echo via-a' }),
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { stdout: string }).stdout).toBe('via-a\n')
      expect(await producer.redis.xlen(producer.names.instanceCommands('hb'))).toBe(
        forwardedBefore + 1,
      )

      const bytes = new Uint8Array([0, 1, 2, 255, 254])
      const put = await appA.request(`/v1/workers/${workerId}/files?path=/tmp/f.bin`, {
        method: 'PUT',
        body: bytes,
      })
      expect(put.status).toBe(200)
      const got = await appA.request(`/v1/workers/${workerId}/files?path=/tmp/f.bin`)
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes)
      const missing = await appA.request(`/v1/workers/${workerId}/files?path=/tmp/none`)
      expect(missing.status).toBe(404)

      // Events of B's worker reach A's SSE through Redis.
      const text = await readSseUntil(events, 'event: command_exit')
      expect(text).toContain('event: output')
      expect(text).toContain('"data":"via-a\\n"')

      const del = await appA.request(`/v1/workers/${workerId}`, { method: 'DELETE' })
      expect(del.status).toBe(200)
      expect(await hb.containers()).toEqual([])
    } finally {
      await a.close()
      await b.close()
      await producer.cleanup()
      await ha.cleanup()
      await hb.cleanup()
    }
  })
})

describe('a streamed command at the instance that does not own the worker', () => {
  it('comes back as an event stream: the output as it comes, then the result', async () => {
    const settings = testSettings()
    const producer = new Producer(settings)
    const ha = await startHarness()
    const hb = await startHarness()
    const a = await startRedisAdapter({
      settings,
      service: ha.service,
      instance: 'sa',
      logger: ha.logger,
    })
    const b = await startRedisAdapter({
      settings,
      service: hb.service,
      instance: 'sb',
      logger: hb.logger,
    })
    try {
      const appA = createApp({ service: ha.service, remote: a.remote, events: a.feed })
      const appB = createApp({ service: hb.service, remote: b.remote, events: b.feed })
      const created = await appB.request('/v1/workers', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'shell', labels: hb.runLabel }),
      })
      const { workerId } = (await created.json()) as { workerId: string }
      await waitFor(
        async () =>
          (await producer.redis.hget(producer.names.owners, workerId)) === 'sb' || undefined,
        5000,
        'ownership',
      )

      const forwardedBefore = await producer.redis.xlen(producer.names.instanceCommands('sb'))
      const res = await appA.request(`/v1/workers/${workerId}/commands`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ shell: 'for i in 1 2 3; do echo line$i; sleep 0.1; done' }),
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
      const events = sseEvents(await res.text())
      // Run by its owner, not looked at here.
      expect(await producer.redis.xlen(producer.names.instanceCommands('sb'))).toBe(
        forwardedBefore + 1,
      )
      expect(
        events
          .filter(([e]) => e === 'output')
          .map(([, d]) => d.data)
          .join(''),
      ).toBe('line1\nline2\nline3\n')
      expect(events.at(-1)?.[0]).toBe('result')
      expect(events.at(-1)?.[1]).toMatchObject({ exitCode: 0, stdout: 'line1\nline2\nline3\n' })
      expect(ha.service.records().map((r) => r.workerId)).not.toContain(workerId)

      // A log can be followed only where the worker runs: refused, naming that instance.
      const follow = await appA.request(`/v1/workers/${workerId}/logs?follow=1`)
      expect(follow.status).toBe(409)
      const refusal = (await follow.json()) as { error: { code: string; message: string } }
      expect(refusal.error.code).toBe('stream_not_forwarded')
      expect(refusal.error.message).toContain("'sb'")
    } finally {
      await a.close()
      await b.close()
      await producer.cleanup()
      await ha.cleanup()
      await hb.cleanup()
    }
  })
})

describe('an instance killed while it holds pending entries', () => {
  let a: SpawnerProcess | undefined
  let b: SpawnerProcess | undefined
  let producer: Producer | undefined
  afterEach(async () => {
    await a?.kill('SIGKILL')
    await b?.kill()
    if (producer) {
      const docker = new Dockerode()
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`test-run=${producer.settings.REDIS_PREFIX}`] },
      })
      for (const c of left)
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined)
      await producer.cleanup()
    }
  })

  it('is taken over: every request answered exactly once, no command run twice', async () => {
    const settings = testSettings({ REDIS_CLAIM_IDLE_MS: '1500' })
    producer = new Producer(settings)
    const env = {
      REDIS_URL: settings.REDIS_URL,
      REDIS_PREFIX: settings.REDIS_PREFIX,
      REDIS_CLAIM_IDLE_MS: '1500',
      REDIS_BLOCK_MS: '200',
    }
    a = await startSpawner({ ...env, SPAWNER_INSTANCE: `crash-a-${settings.REDIS_PREFIX}` })
    const { workerId } = await producer.call('create', {
      config: { agent: 'shell', labels: { 'test-run': settings.REDIS_PREFIX } },
    })
    const N = 12
    const ids: string[] = []
    for (let i = 0; i < N; i++) {
      ids.push(
        await producer.send('send_command', {
          workerId,
          shell: `sleep 0.4; echo ${i} >> /workspace/ran`,
        }),
      )
    }
    // A works through them one by one (one worker's requests keep their order); kill it mid-way.
    await waitFor(
      async () => (await producer!.responses()).length >= 3 || undefined,
      30_000,
      'first answers',
    )
    await a.kill('SIGKILL')
    const answeredByA = (await producer.responses()).filter((r) =>
      ids.includes(r.requestId ?? ''),
    ).length
    expect(answeredByA).toBeLessThan(N)

    b = await startSpawner({ ...env, SPAWNER_INSTANCE: `crash-b-${settings.REDIS_PREFIX}` })
    const answers = await waitFor(
      async () => {
        const rs = (await producer!.responses()).filter((r) => ids.includes(r.requestId ?? ''))
        return rs.length >= N ? rs : undefined
      },
      60_000,
      'every request answered',
    )
    // Exactly one answer each.
    expect(answers.map((r) => r.requestId).sort()).toEqual([...ids].sort())
    await new Promise((r) => setTimeout(r, 2000))
    const later = (await producer.responses()).filter((r) => ids.includes(r.requestId ?? ''))
    expect(later).toHaveLength(N)
    // Nothing ran twice; what was cut off mid-command says so instead of running again.
    const ran = (
      await producer.call('send_command', { workerId, shell: 'cat /workspace/ran' })
    ).stdout
      .trim()
      .split('\n')
    expect(new Set(ran).size).toBe(ran.length)
    const interrupted = answers.filter((r) => !r.ok)
    for (const r of interrupted) expect(r.error?.code).toBe('interrupted')
    expect(interrupted.length).toBeLessThanOrEqual(1)
    const okCount = answers.filter((r) => r.ok).length
    // An interrupted command may or may not have finished before its instance died.
    expect(ran.length).toBeGreaterThanOrEqual(okCount)
    expect(ran.length).toBeLessThanOrEqual(okCount + interrupted.length)
    expect(b.logs.some((l) => l.msg === 'request taken over')).toBe(true)
    await producer.call('delete', { workerId })
  })
})

/**
 * Two instances on one Redis and one engine that sign worker tokens with one shared key (as
 * instances that share workers must), each with its own service and Redis adapter.
 */
const twoSigningInstances = async (names: [string, string]) => {
  const settings = testSettings()
  const producer = new Producer(settings)
  const ha = await startHarness()
  const hb = await startHarness()
  const secret = 'shared-instance-secret-0123456789abcdef'
  const signer = new TokenSigner(secret)
  const registry = await registryWith()
  const make = (runtime: typeof ha.runtime, instance: string) =>
    new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: WORKER_IMAGE,
      hostEnv: {},
      secret,
      tokens: { signer, url: 'http://127.0.0.1:9' },
      instance,
    })
  const sa = make(ha.runtime, names[0])
  const sb = make(hb.runtime, names[1])
  const a = await startRedisAdapter({
    settings,
    service: sa,
    instance: names[0],
    logger: ha.logger,
  })
  const b = await startRedisAdapter({
    settings,
    service: sb,
    instance: names[1],
    logger: hb.logger,
  })
  const close = async () => {
    await a.close()
    await b.close()
    await producer.cleanup()
    await ha.cleanup()
    await hb.cleanup()
  }
  return { settings, producer, ha, hb, signer, sa, sb, a, b, close }
}

describe('a forwarded call handed on by an instance that does not own the worker', () => {
  it('keeps its caller: the owner still applies the rules for workers', async () => {
    const { settings, producer, ha, hb, signer, sa, sb, a, b, close } = await twoSigningInstances([
      'pa',
      'pb',
    ])
    try {
      const appB = createApp({ service: sb, remote: b.remote })
      const created = await appB.request('/v1/workers', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          agent: 'shell',
          network: 'open',
          allowedTools: ['update'],
          ttlSeconds: 600,
          labels: hb.runLabel,
        }),
      })
      expect(created.status).toBe(201)
      const { workerId } = (await created.json()) as { workerId: string }
      await waitFor(
        async () =>
          (await producer.redis.hget(producer.names.owners, workerId)) === 'pb' || undefined,
        5000,
        'ownership',
      )

      // What an instance forwards for a worker's call, reaching one that no longer owns it.
      const requestId = 'handed-on-1'
      await producer.redis.xadd(
        producer.names.instanceCommands('pa'),
        '*',
        'request_id',
        requestId,
        'command',
        'update',
        'payload',
        JSON.stringify({ workerId, ttlSeconds: 7200 }),
        'forwarded_by',
        'elsewhere',
        'caller',
        workerId,
      )
      const answer = await producer.response(requestId)
      expect(answer.error?.code).toBe('ttl_not_allowed')
      expect((await sb.status({ workerId })).ttlSeconds).toBe(600)
      const handedOn = (await producer.redis.xrange(
        producer.names.instanceCommands('pb'),
        '-',
        '+',
      )) as [string, string[]][]
      expect(handedOn.map(([, f]) => f[f.indexOf('request_id') + 1])).toContain(requestId)
    } finally {
      await close()
    }
  })
})

describe('a worker that calls an instance other than its own', () => {
  it('keeps the rules for workers there, and that instance does not take the worker over', async () => {
    // Instances that share workers share the key: the worker's token is good at both.
    const { settings, producer, ha, hb, signer, sa, sb, a, b, close } = await twoSigningInstances([
      'ta',
      'tb',
    ])
    try {
      const appA = createApp({ service: sa, remote: a.remote, auth: { signer } })
      const appB = createApp({ service: sb, remote: b.remote, auth: { signer } })
      const created = await appB.request('/v1/workers', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          agent: 'shell',
          network: 'open',
          allowedTools: ['update', 'spawn'],
          ttlSeconds: 600,
          labels: hb.runLabel,
        }),
      })
      expect(created.status).toBe(201)
      const { workerId } = (await created.json()) as { workerId: string }
      await waitFor(
        async () =>
          (await producer.redis.hget(producer.names.owners, workerId)) === 'tb' || undefined,
        5000,
        'ownership',
      )
      const token = await signer.sign({
        sub: workerId,
        tools: ['update', 'spawn'],
        exp: Math.floor(Date.now() / 1000) + 600,
      })
      const asWorker = (method: string, path: string, body: unknown) =>
        appA.request(path, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })

      // Through A, forwarded to its owner B: still the worker asking, so no longer life.
      const longer = await asWorker('PATCH', `/v1/workers/${workerId}`, { ttlSeconds: 7200 })
      expect(longer.status).toBe(403)
      expect(((await longer.json()) as { error: { code: string } }).error.code).toBe(
        'ttl_not_allowed',
      )
      expect((await asWorker('PATCH', `/v1/workers/${workerId}`, { ttlSeconds: 300 })).status).toBe(
        200,
      )
      // A looked the worker up to check the token, but it runs no deadlines of it.
      expect(sa.records().map((r) => r.workerId)).not.toContain(workerId)
      // Sub-workers are counted where the tree lives: not through another instance.
      const spawned = await asWorker('POST', '/v1/workers', {
        agent: 'shell',
        network: 'open',
        labels: ha.runLabel,
      })
      expect(spawned.status).toBe(403)
      expect(((await spawned.json()) as { error: { code: string } }).error.code).toBe(
        'not_your_instance',
      )
      expect((await sb.status({ workerId })).ttlSeconds).toBe(300)
    } finally {
      await close()
    }
  })
})
