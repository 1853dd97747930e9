import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, describe, expect, it } from 'vitest'
import { LABELS } from '../src/core/labels.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'
import { startSpawner, type SpawnerProcess } from './support/process.ts'
import { waitFor } from './support/redis.ts'

describe('a spawner killed and started again', () => {
  const instance = `restart-${randomBytes(3).toString('hex')}`
  const docker = new Dockerode()
  const procs: SpawnerProcess[] = []
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL')
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${instance}`] } })
    for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)
  })

  const client = (p: SpawnerProcess) => async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${p.port}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, json: (await res.json()) as any }
  }

  it('knows every worker again with its original deadlines and removes the expired and broken ones', async () => {
    const env = { SPAWNER_INSTANCE: instance, LIFECYCLE_TICK_MS: '250', PERSIST_ACTIVITY_MS: '1' }
    const first = await startSpawner(env)
    procs.push(first)
    const call = client(first)
    const make = async (config: object) => {
      const res = await call('POST', '/v1/workers', { agent: 'shell', ...config })
      expect(res.status).toBe(201)
      return res.json.workerId as string
    }
    const running = await make({ ttlSeconds: 3600, idleSeconds: 600 })
    const paused = await make({ ttlSeconds: 3600 })
    const expiring = await make({ ttlSeconds: 3, idleSeconds: 0 })
    const updated = await make({ ttlSeconds: 60 })
    await call('POST', `/v1/workers/${running}/commands`, { shell: 'echo hi' })
    await call('POST', `/v1/workers/${paused}/pause`)
    expect((await call('PATCH', `/v1/workers/${updated}`, { ttlSeconds: 7200, idleSeconds: 30 })).status).toBe(200)
    await new Promise((r) => setTimeout(r, 300)) // the activity write is fire-and-forget
    const before = Object.fromEntries(
      await Promise.all([running, paused, expiring, updated].map(async (id) => [id, (await call('GET', `/v1/workers/${id}`)).json])),
    )

    // A container with our labels but no worker id: broken, to be cleaned at start.
    const broken = await docker.createContainer({
      Image: WORKER_IMAGE,
      Labels: { [LABELS.managed]: 'true', [LABELS.instance]: instance },
    })
    await broken.start()

    await first.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 3500)) // `expiring` passes its TTL while nobody watches

    const second = await startSpawner(env)
    procs.push(second)
    const again = client(second)
    const recovered = second.logs.find((l) => l.msg === 'workers recovered')
    expect(recovered).toMatchObject({ recovered: 3, expired: 1, broken: 1 })

    for (const id of [running, paused, updated]) {
      const now = (await again('GET', `/v1/workers/${id}`)).json
      expect(now.expiresAt, id).toBe(before[id].expiresAt)
      expect(now.createdAt, id).toBe(before[id].createdAt)
      expect(now.ttlSeconds, id).toBe(before[id].ttlSeconds)
    }
    expect((await again('GET', `/v1/workers/${running}`)).json.idleDeadline).toBe(before[running].idleDeadline)
    expect((await again('GET', `/v1/workers/${paused}`)).json.state).toBe('paused')
    expect((await again('GET', `/v1/workers/${updated}`)).json).toMatchObject({ ttlSeconds: 7200, idleSeconds: 30 })
    expect((await again('GET', `/v1/workers/${expiring}`)).status).toBe(404)
    const gone = await docker.listContainers({ all: true, filters: { label: [`${LABELS.workerId}=${expiring}`] } })
    expect(gone).toEqual([])
    await waitFor(async () => {
      try {
        await broken.inspect()
        return undefined
      } catch {
        return true
      }
    }, 5000, 'broken container removed')

    // They answer commands: the paused one is resumed on the way.
    const res = await again('POST', `/v1/workers/${paused}/commands`, { shell: 'echo resumed' })
    expect(res.json.stdout).toBe('resumed\n')
    for (const id of [running, paused, updated]) expect((await again('DELETE', `/v1/workers/${id}`)).status).toBe(200)
  })
})
