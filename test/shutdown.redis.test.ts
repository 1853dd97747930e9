import Dockerode from 'dockerode'
import { afterEach, describe, expect, it } from 'vitest'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

describe('SIGTERM', () => {
  const procs: SpawnerProcess[] = []
  let producer: Producer | undefined
  afterEach(async () => {
    for (const p of procs) await p.kill('SIGKILL')
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

  it('finishes and answers what it holds, reads nothing new, and exits 0', async () => {
    const settings = testSettings()
    producer = new Producer(settings)
    const env = {
      REDIS_URL: settings.REDIS_URL,
      REDIS_PREFIX: settings.REDIS_PREFIX,
      REDIS_BLOCK_MS: '200',
    }
    const a = await startSpawner({ ...env, SPAWNER_INSTANCE: `term-a-${settings.REDIS_PREFIX}` })
    procs.push(a)
    const { workerId } = await producer.call('create', {
      config: { agent: 'shell', labels: { 'test-run': settings.REDIS_PREFIX } },
    })
    const held = [
      await producer.send('send_command', { workerId, shell: 'sleep 1.5; echo long' }),
      await producer.send('send_command', { workerId, shell: 'echo queued' }),
    ]
    await waitFor(
      async () => {
        const [count] = (await producer!.redis.xpending(
          producer!.names.commands,
          `${settings.REDIS_PREFIX}:workers-spawner`,
        )) as [number]
        return count === 2 || undefined
      },
      10_000,
      'both entries delivered',
    )
    const exited = new Promise<number | null>((r) => a.child.once('exit', (code) => r(code)))
    a.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 300))
    const late = await producer.send('send_command', { workerId, shell: 'echo late' })
    expect(await exited).toBe(0)

    const answers = await Promise.all(held.map((id) => producer!.response(id, 5000)))
    expect(answers.map((r) => r.result?.stdout)).toEqual(['long\n', 'queued\n'])
    expect((await producer.responses()).some((r) => r.requestId === late)).toBe(false)
    const [pending] = (await producer.redis.xpending(
      producer.names.commands,
      `${settings.REDIS_PREFIX}:workers-spawner`,
    )) as [number]
    expect(pending).toBe(0)
    expect(a.logs.some((l) => l.msg === 'redis consumer stopped')).toBe(true)

    // What arrived after the stop is served by the next instance.
    const b = await startSpawner({ ...env, SPAWNER_INSTANCE: `term-b-${settings.REDIS_PREFIX}` })
    procs.push(b)
    expect((await producer.response(late, 30_000)).result.stdout).toBe('late\n')
    await producer.call('delete', { workerId })
  })
})
