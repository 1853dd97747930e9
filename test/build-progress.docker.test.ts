import { randomBytes } from 'node:crypto'
import Dockerode from 'dockerode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineCapability } from '../src/core/plugin/contract.ts'
import { registryWith, startHarness, type Harness } from './support/harness.ts'
import { spawnerClient, startSpawner, type SpawnerProcess } from './support/process.ts'
import { sseEvents } from './support/sse.ts'
import { removeInstanceContainers } from './support/cleanup.ts'

/**
 * A capability whose install step writes a marker new to each run, so its image is always
 * built afresh (a trivial `run` step: no package mirror needed).
 */
const markerPlugin = (name: string, marker: string) =>
  defineCapability({
    apiVersion: 'v1',
    name,
    version: '1.0.0',
    description: 'a marker baked into the image',
    install: [{ run: `echo ${marker} > /etc/${name}` }],
  })

describe('image builds show their progress', () => {
  const run = randomBytes(4).toString('hex')
  const forCreate = `mark-create-${run}`
  const ahead = `mark-ahead-${run}`
  let h: Harness
  const tags = new Set<string>()

  beforeAll(async () => {
    const registry = await registryWith(markerPlugin(forCreate, run), markerPlugin(ahead, run))
    h = await startHarness({ registry })
  })
  afterAll(async () => {
    await h?.cleanup()
    // The derived images this run built, by their label (each names its plugins).
    for (const image of await h.docker.listImages({
      filters: { label: ['workers-spawner.derived=true'] },
    })) {
      const plugins = image.Labels?.['workers-spawner.plugins'] ?? ''
      if (plugins.includes(run)) tags.add(image.Id)
    }
    for (const tag of tags)
      await h.docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => undefined)
  })

  const post = (path: string, body: unknown, stream: boolean) =>
    h.app.request(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(stream ? { accept: 'text/event-stream' } : {}),
      },
      body: JSON.stringify(body),
    })

  it('streams a create that needs a new image: its build steps in order, then the result', async () => {
    const res = await post(
      '/v1/workers',
      { agent: 'shell', capabilities: [forCreate], labels: h.runLabel },
      true,
    )
    expect(res.status).toBe(200)
    const events = sseEvents(await res.text())
    const [last, ...rest] = [events.at(-1)!, ...events.slice(0, -1)]
    expect(last[0], JSON.stringify(last[1])).toBe('result')
    expect(last[1]).toMatchObject({ status: 'running', imageBuilt: true })
    tags.add(last[1].image)
    expect(rest.every(([event]) => event === 'progress')).toBe(true)
    const progress = rest.map(([, data]) => data)
    expect(progress[0]).toMatchObject({ phase: 'started', tag: last[1].image })
    expect(progress.at(-1)).toMatchObject({ phase: 'finished', tag: last[1].image })
    // Every step, in order, each announced by a line of its own (the shell agent's steps, then
    // the marker's RUN).
    const total = progress.find((p) => p.steps !== undefined)?.steps
    expect(total).toBeGreaterThanOrEqual(5)
    const steps = progress.filter((p) => p.step !== undefined).map((p) => p.step)
    expect([...new Set(steps)]).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    expect(steps).toEqual([...steps].sort((a, b) => a - b))
    expect(progress.every((p) => p.steps === undefined || p.steps === total)).toBe(true)
    expect(progress.some((p) => String(p.message).includes(`/etc/${forCreate}`))).toBe(true)
    // The worker runs on it, its marker there.
    const cat = await post(
      `/v1/workers/${last[1].workerId}/commands`,
      { argv: ['cat', `/etc/${forCreate}`] },
      false,
    )
    expect((await cat.json()).stdout).toBe(`${run}\n`)
  })

  it('builds a plugin set ahead of time: built (with its progress), then already there', async () => {
    const first = sseEvents(
      await (await post('/v1/images', { capabilities: [ahead] }, true)).text(),
    )
    const result = first.at(-1)!
    expect(result[0], JSON.stringify(result[1])).toBe('result')
    expect(result[1]).toMatchObject({ built: true })
    tags.add(result[1].tag)
    expect(first.slice(0, -1).map(([, p]) => p.phase)).toContain('finished')
    const second = await post('/v1/images', { capabilities: [ahead] }, false)
    expect(second.status).toBe(200)
    expect(await second.json()).toMatchObject({ tag: result[1].tag, built: false })
    expect(await h.docker.getImage(result[1].tag).inspect()).toBeTruthy()
  })
})

/**
 * `npm start` against an engine without its worker image builds it from the base image. With
 * the layers of the usual worker image in the engine's cache this takes seconds; with a cold
 * cache it rebuilds everything (minutes, and the package mirror), hence the long limit.
 */
describe('a first start without the worker image', () => {
  const docker = new Dockerode()
  const instance = `first-${randomBytes(3).toString('hex')}`
  const image = `workers-spawner/universal-worker:first-start-${instance}`
  let spawner: SpawnerProcess | undefined

  beforeAll(async () => {
    await expect(docker.getImage(image).inspect()).rejects.toThrow()
  })
  afterAll(async () => {
    await spawner?.kill()
    await removeInstanceContainers(docker, instance)
    // Only the tag goes: its layers are the usual worker image's.
    await docker
      .getImage(image)
      .remove()
      .catch(() => undefined)
  })

  it('refuses creates with not_ready and what to run when the build fails (a base that is not there)', async () => {
    const base = `workers-spawner/base:missing-${instance}`
    const failing = await startSpawner({
      SPAWNER_INSTANCE: `${instance}-f`,
      WORKER_IMAGE: image,
      BASE_IMAGE: base,
    })
    try {
      await expect
        .poll(() => failing.logs.find((l) => l.msg === 'worker image build failed'), {
          timeout: 60_000,
          interval: 200,
        })
        .toMatchObject({ image, base, reason: expect.stringContaining('bootstrap-base.sh') })
      const created = await spawnerClient(failing)('POST', '/v1/workers', { agent: 'shell' })
      expect(created.status).toBe(503)
      expect(created.json.error.code).toBe('not_ready')
      expect(created.json.error.message).toContain(`the worker image ${image} could not be built`)
      expect(created.json.error.message).toContain(`BASE_IMAGE=${base} npm run image:worker`)
    } finally {
      await failing.kill()
    }
  })

  it(
    'builds it, its steps on the log, and then creates run on it',
    async () => {
      spawner = await startSpawner({ SPAWNER_INSTANCE: instance, WORKER_IMAGE: image })
      const logs = spawner.logs
      expect(logs.find((l) => l.msg === 'worker image missing: building it')).toMatchObject({
        image,
        base: 'workers-spawner/base:trixie',
      })
      await expect
        .poll(
          () =>
            logs.find(
              (l) => l.msg === 'worker image built' || l.msg === 'worker image build failed',
            ),
          {
            timeout: 15 * 60_000,
            interval: 500,
          },
        )
        .toMatchObject({ msg: 'worker image built', image })
      const steps = logs.filter((l) => l.msg === 'worker image build').map((l) => Number(l.step))
      expect(steps.length).toBeGreaterThan(3)
      expect(steps).toEqual([...steps].sort((a, b) => a - b))
      const call = spawnerClient(spawner)
      const created = await call('POST', '/v1/workers', { agent: 'shell' })
      expect(created.status, JSON.stringify(created.json)).toBe(201)
      expect(created.json.image).toBe(image)
    },
    16 * 60_000,
  )
})
