import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SpawnerEvent } from '../src/core/events.ts'
import { Lifecycle } from '../src/core/lifecycle.ts'
import { WarmPools } from '../src/core/pool.ts'
import { LABELS } from '../src/core/labels.ts'
import { api, startHarness, type Harness } from './support/harness.ts'
import { waitFor } from './support/redis.ts'

const dockerState = async (h: Harness, workerId: string) => {
  const [c] = await h.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.workerId}=${workerId}`] },
  })
  return c?.State
}

describe('lifecycle: TTL and idle time', () => {
  let h: Harness
  let http: ReturnType<typeof api>
  let lifecycle: Lifecycle
  const events: SpawnerEvent[] = []

  beforeAll(async () => {
    h = await startHarness()
    http = api(h.app)
    h.service.events.subscribe((e) => events.push(e))
    lifecycle = new Lifecycle(h.service, { tickMs: 200 })
    lifecycle.start()
  })
  afterAll(async () => {
    await lifecycle?.stop()
    await h?.cleanup()
  })

  const create = async (config: object) => {
    const res = await http.post('/v1/workers', { agent: 'shell', labels: h.runLabel, ...config })
    expect(res.status, res.text).toBe(201)
    return res.json.workerId as string
  }

  it('pauses an idle worker, and a command resumes it and succeeds', async () => {
    const id = await create({ idleSeconds: 1 })
    // The event follows the engine's pause: wait on it, then look at Docker.
    const paused = (e: SpawnerEvent) =>
      e.type === 'status' && e.workerId === id && e.state === 'paused'
    await waitFor(() => events.find(paused), 30_000, 'idle pause event')
    expect(events.find(paused)).toMatchObject({ reason: 'idle' })
    expect(await dockerState(h, id)).toBe('paused')
    const status = await http.get(`/v1/workers/${id}`)
    expect(status.json).toMatchObject({ state: 'paused', idleSeconds: 1 })
    const res = await http.post(`/v1/workers/${id}/commands`, { shell: 'echo back' })
    expect(res.json).toMatchObject({ exitCode: 0, stdout: 'back\n' })
    expect(await dockerState(h, id)).toBe('running')
  })

  it('never pauses a worker while its command runs longer than idleSeconds', async () => {
    const id = await create({ idleSeconds: 1 })
    const states = new Set<string>()
    let running = true
    const watch = (async () => {
      while (running) {
        states.add((await dockerState(h, id)) ?? 'gone')
        const s = await http.get(`/v1/workers/${id}`)
        if (s.json?.commandRunning) states.add('command-running')
        await new Promise((r) => setTimeout(r, 150))
      }
    })()
    const res = await http.post(`/v1/workers/${id}/commands`, { shell: 'sleep 3; echo finished' })
    running = false
    await watch
    expect(res.json).toMatchObject({ exitCode: 0, stdout: 'finished\n', timedOut: false })
    expect(states.has('paused')).toBe(false)
    expect(states.has('command-running')).toBe(true)
  })

  it('removes a worker at its TTL, but not in the middle of a command', async () => {
    const id = await create({ ttlSeconds: 1, idleSeconds: 0 })
    const res = await http.post(`/v1/workers/${id}/commands`, { shell: 'sleep 2.5; echo survived' })
    expect(res.json).toMatchObject({ exitCode: 0, stdout: 'survived\n' })
    // The event is published once the container is gone: wait on it, then look at Docker.
    const deleted = (e: SpawnerEvent) =>
      e.type === 'status' && e.workerId === id && e.state === 'deleted'
    await waitFor(() => events.find(deleted), 30_000, 'TTL removal event')
    expect(events.find(deleted)).toMatchObject({ reason: 'ttl' })
    expect(await dockerState(h, id)).toBeUndefined()
    expect((await http.get(`/v1/workers/${id}`)).status).toBe(404)
  })

  it('update extends the TTL', async () => {
    const id = await create({ ttlSeconds: 2, idleSeconds: 0 })
    const before = (await http.get(`/v1/workers/${id}`)).json
    const res = await http.patch(`/v1/workers/${id}`, { ttlSeconds: 60 })
    expect(res.json.ttlSeconds).toBe(60)
    expect(Date.parse(res.json.expiresAt) - Date.parse(before.expiresAt)).toBe(58_000)
    await new Promise((r) => setTimeout(r, 3000))
    expect(await dockerState(h, id)).toBe('running')
    const bad = await http.patch(`/v1/workers/${id}`, { ttlSeconds: -5 })
    expect(bad.status).toBe(400)
  })
})

describe('warm pools', () => {
  let h: Harness
  let pools: WarmPools
  afterAll(async () => {
    pools?.close()
    await h?.cleanup()
    // Pool containers carry no test label: remove them by their pool label and this service's records.
    for (const r of h?.service.records() ?? [])
      await h.docker
        .getContainer(r.containerId)
        .remove({ force: true })
        .catch(() => undefined)
  })

  it('hands out a started container and refills to the pool size', async () => {
    h = await startHarness()
    pools = new WarmPools(h.service, [{ key: 'shell', agent: 'shell', capabilities: [], size: 2 }])
    pools.start()
    await waitFor(() => pools.sizes().shell === 2 || undefined, 60_000, 'pool filled')
    const pooled = h.service
      .records()
      .filter((r) => r.pool)
      .map((r) => r.workerId)
    expect(pooled).toHaveLength(2)
    // Waiting pool containers are nobody's workers.
    const http = api(h.app)
    expect(
      (await http.get('/v1/workers')).json.workers.filter((w: { workerId: string }) =>
        pooled.includes(w.workerId),
      ),
    ).toEqual([])

    const res = await http.post('/v1/workers', {
      agent: 'shell',
      env: { GREETING: 'from-config' },
      files: { 'TASK.md': 'the task' },
      labels: { ...h.runLabel, team: 'a' },
      ttlSeconds: 600,
    })
    expect(res.status, res.text).toBe(201)
    expect(pooled).toContain(res.json.workerId)
    const id = res.json.workerId as string
    const out = await http.post(`/v1/workers/${id}/commands`, {
      shell: 'echo $GREETING; cat TASK.md',
    })
    expect(out.json.stdout).toBe('from-config\nthe task')
    const status = await http.get(`/v1/workers/${id}`)
    expect(status.json).toMatchObject({ labels: { ...h.runLabel, team: 'a' }, ttlSeconds: 600 })
    expect(Date.parse(status.json.expiresAt) - Date.parse(status.json.createdAt)).toBe(600_000)
    await waitFor(() => pools.sizes().shell === 2 || undefined, 60_000, 'pool refilled')
    expect(h.service.records().filter((r) => r.pool)).toHaveLength(2)

    // A config the pool cannot serve starts a fresh container instead.
    const other = await http.post('/v1/workers', {
      agent: 'shell',
      workdir: '/tmp',
      labels: h.runLabel,
    })
    expect(pooled).not.toContain(other.json.workerId)
    expect(pools.sizes().shell).toBe(2)
  })
})
