import Dockerode from 'dockerode'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UnavailableError } from '../src/core/errors.ts'
import { LABELS } from '../src/core/labels.ts'
import { noopLogger } from '../src/core/logger.ts'
import type { ContainerRuntime, ContainerSpec, ExecRequest } from '../src/core/runtime.ts'
import { WorkerService } from '../src/core/service.ts'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { registryWith, startHarness, type Harness } from './support/harness.ts'
import { MemoryRuntime } from './support/memory-runtime.ts'
import { Producer, testSettings } from './support/redis.ts'

type Effect = 'run' | 'exec' | 'putFile' | 'pause' | 'unpause' | 'remove'

/** Instances that share workers share the key their state is signed with. */
const SECRET = 'effects-test-secret-0123456789abcdef'

const lost = () => new UnavailableError('Docker Engine not reachable (connection reset)')

/**
 * An engine whose answers get lost: a call named in `lose` takes effect, then fails as an
 * unreachable engine does; `down` makes the next lookups fail before reaching anything.
 * `effects` counts the calls that took effect.
 */
class LossyRuntime extends MemoryRuntime {
  readonly effects: Record<Effect, number> = {
    run: 0,
    exec: 0,
    putFile: 0,
    pause: 0,
    unpause: 0,
    remove: 0,
  }
  lose = new Set<Effect>()
  down = 0

  private async effect<T>(name: Effect, call: () => Promise<T>): Promise<T> {
    const result = await call()
    this.effects[name]++
    if (this.lose.has(name)) throw lost()
    return result
  }
  override run(spec: ContainerSpec) {
    return this.effect('run', () => super.run(spec))
  }
  override exec(id: string, req: ExecRequest) {
    return this.effect('exec', () => super.exec(id, req))
  }
  override putFile(id: string, path: string, content: Uint8Array) {
    return this.effect('putFile', () => super.putFile(id, path, content))
  }
  override pause(id: string) {
    return this.effect('pause', () => super.pause(id))
  }
  override unpause(id: string) {
    return this.effect('unpause', () => super.unpause(id))
  }
  override remove(id: string) {
    return this.effect('remove', () => super.remove(id))
  }
  override async list(labels: Record<string, string | undefined>) {
    if (this.down > 0) {
      this.down--
      throw lost()
    }
    return super.list(labels)
  }
}

describe('a command whose engine answer was lost after it took effect', () => {
  let adapter: RedisAdapter
  let producer: Producer
  let runtime: LossyRuntime
  let service: WorkerService
  let registry: Awaited<ReturnType<typeof registryWith>>

  beforeEach(async () => {
    // Retries come quickly and often: a command run again would show within the test.
    const settings = testSettings({ REDIS_CLAIM_IDLE_MS: '300', REDIS_MAX_ATTEMPTS: '3' })
    producer = new Producer(settings)
    runtime = new LossyRuntime()
    registry = await registryWith()
    service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'img',
      hostEnv: {},
      secret: SECRET,
    })
    adapter = await startRedisAdapter({ settings, service, instance: 'lossy', logger: noopLogger })
  })
  afterEach(async () => {
    await adapter?.close()
    await producer?.cleanup()
  })

  const expectInterrupted = async (command: string, payload: unknown) => {
    const answer = await producer.response(await producer.send(command, payload), 30_000)
    expect(answer).toMatchObject({
      ok: false,
      error: { code: 'interrupted' },
      fields: { status: '503' },
    })
    expect(answer.error?.message).toMatch(/may or may not have taken effect/)
    return answer
  }
  const worker = async () =>
    (await producer.call('create', { config: { agent: 'shell' } })).workerId as string

  it('send_command: the exec ran once and the answer is interrupted', async () => {
    const workerId = await worker()
    runtime.lose.add('exec')
    await expectInterrupted('send_command', { workerId, shell: 'echo once' })
    expect(runtime.effects.exec).toBe(1)
  })

  it('send_file, update, pause, resume and delete: each took effect once', async () => {
    const workerId = await worker()
    const cases: [Effect, string, object][] = [
      [
        'putFile',
        'send_file',
        { workerId, path: '/workspace/a.txt', content: 'a', encoding: 'utf8' },
      ],
      ['putFile', 'update', { workerId, ttlSeconds: 7200 }],
      ['pause', 'pause', { workerId }],
      ['unpause', 'resume', { workerId }],
      ['remove', 'delete', { workerId }],
    ]
    for (const [effect, command, payload] of cases) {
      const before = runtime.effects[effect]
      runtime.lose = new Set([effect])
      await expectInterrupted(command, payload)
      expect({ command, times: runtime.effects[effect] - before }).toEqual({ command, times: 1 })
    }
  })

  it('create: the container was started once, and nothing of it remains', async () => {
    runtime.lose.add('run')
    await expectInterrupted('create', { config: { agent: 'shell' } })
    expect(runtime.effects.run).toBe(1)
    expect(await runtime.list({ [LABELS.managed]: 'true' })).toEqual([])
  })

  it('a command that failed before it started is still retried, and runs once', async () => {
    // Created by another instance on the same engine: this one looks the worker up first.
    const other = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'img',
      hostEnv: {},
      secret: SECRET,
    })
    const { workerId } = await other.create({ config: service.parseConfig({ agent: 'shell' }) })
    runtime.down = 1
    const answer = await producer.response(
      await producer.send('send_command', { workerId, shell: 'echo later' }),
      30_000,
    )
    expect(answer).toMatchObject({ ok: true, result: { exitCode: 0 } })
    expect(runtime.down).toBe(0)
    expect(runtime.effects.exec).toBe(1)
  })
})

describe('with Docker: an answer lost after the effect', () => {
  let h: Harness
  let adapter: RedisAdapter | undefined
  let producer: Producer | undefined
  const lose = new Set<'run' | 'exec'>()
  const started: string[] = []

  afterAll(async () => {
    await adapter?.close()
    await producer?.cleanup()
    await h?.cleanup()
  })

  it('send_command ran once in the container; a lost create leaves no container behind', async () => {
    h = await startHarness()
    const real = h.runtime
    // The engine does the work, then the answer is lost on the way back.
    const overrides: Partial<ContainerRuntime> = {
      run: async (spec: ContainerSpec) => {
        started.push(spec.labels[LABELS.workerId]!)
        const id = await real.run(spec)
        if (lose.has('run')) throw lost()
        return id
      },
      exec: async (id: string, req: ExecRequest) => {
        const result = await real.exec(id, req)
        if (lose.has('exec')) throw lost()
        return result
      },
    }
    const runtime = new Proxy(real, {
      get: (target, key: keyof ContainerRuntime) => overrides[key] ?? target[key].bind(target),
    })
    const registry = await registryWith()
    const service = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: WORKER_IMAGE,
      hostEnv: {},
    })
    const settings = testSettings({ REDIS_CLAIM_IDLE_MS: '300', REDIS_MAX_ATTEMPTS: '3' })
    producer = new Producer(settings)
    adapter = await startRedisAdapter({
      settings,
      service,
      instance: 'lossy-docker',
      logger: noopLogger,
    })

    const { workerId } = await producer.call('create', {
      config: { agent: 'shell', labels: h.runLabel },
    })
    lose.add('exec')
    const answer = await producer.response(
      await producer.send('send_command', { workerId, shell: 'echo run >> /workspace/count' }),
      60_000,
    )
    expect(answer).toMatchObject({ ok: false, error: { code: 'interrupted' } })
    lose.delete('exec')
    expect(
      (await producer.call('send_command', { workerId, shell: 'wc -l < /workspace/count' })).stdout,
    ).toBe('1\n')

    lose.add('run')
    const lostCreate = await producer.response(
      await producer.send('create', { config: { agent: 'shell', labels: h.runLabel } }),
      60_000,
    )
    expect(lostCreate).toMatchObject({ ok: false, error: { code: 'interrupted' } })
    expect(started).toHaveLength(2)
    const docker = new Dockerode()
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workerId}=${started[1]}`] },
    })
    expect(left).toEqual([])
  })
})
