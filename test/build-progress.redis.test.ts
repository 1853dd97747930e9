import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SpawnerEvent } from '../src/core/events.ts'
import { defineCapability } from '../src/core/plugin/contract.ts'
import { startRedisAdapter, type RedisAdapter } from '../src/redis/index.ts'
import { registryWith, startHarness, type Harness } from './support/harness.ts'
import { Producer, testSettings, waitFor } from './support/redis.ts'

/** A capability whose image is new each run (its install step writes this run's marker). */
const markerPlugin = (name: string, marker: string) =>
  defineCapability({
    apiVersion: 'v1',
    name,
    version: '1.0.0',
    description: 'a marker baked into the image',
    install: [{ run: `echo ${marker} > /etc/${name}` }],
  })

type Build = Extract<SpawnerEvent, { type: 'image_build' }>

describe('image build progress over Redis', () => {
  const run = randomBytes(4).toString('hex')
  const forCreate = `rmark-create-${run}`
  const ahead = `rmark-ahead-${run}`
  let h: Harness
  let adapter: RedisAdapter
  let producer: Producer
  const tags = new Set<string>()

  beforeAll(async () => {
    h = await startHarness({
      registry: await registryWith(markerPlugin(forCreate, run), markerPlugin(ahead, run)),
    })
    const settings = testSettings()
    adapter = await startRedisAdapter({
      settings,
      service: h.service,
      instance: `progress-${run}`,
      logger: h.logger,
    })
    producer = new Producer(settings)
  })
  afterAll(async () => {
    await adapter?.close()
    await producer?.cleanup()
    await h?.cleanup()
    for (const tag of tags)
      await h.docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => undefined)
  })

  /** The `image_build` events of `requestId` once its build is over. */
  const buildEvents = async (events: SpawnerEvent[], requestId: string) => {
    const mine = () =>
      events.filter((e): e is Build => e.type === 'image_build' && e.requestId === requestId)
    await waitFor(
      () => mine().some((e) => e.phase === 'finished' || e.phase === 'failed') || undefined,
      60_000,
      'the end of the build',
    )
    return mine()
  }

  it("sends a create's build progress out as image_build events of its worker and request", async () => {
    const all = await producer.listen(producer.names.events)
    const requestId = await producer.send('create', {
      config: { agent: 'shell', capabilities: [forCreate], labels: h.runLabel },
    })
    const response = await producer.response(requestId)
    expect(response.ok, JSON.stringify(response.error)).toBe(true)
    tags.add(response.result.image)
    const builds = await buildEvents(all.events, requestId)
    all.stop()
    expect(builds[0]).toMatchObject({ phase: 'started', tag: response.result.image })
    expect(builds.at(-1)).toMatchObject({ phase: 'finished', tag: response.result.image })
    expect(builds.every((e) => e.workerId === response.result.workerId)).toBe(true)
    const steps = builds.flatMap((e) => (e.step === undefined ? [] : [e.step]))
    expect(steps.length).toBeGreaterThan(0)
    expect(steps).toEqual([...steps].sort((a, b) => a - b))
  })

  it('builds a plugin set ahead with build_image: built, then already there; its events name no worker', async () => {
    const all = await producer.listen(producer.names.events)
    const requestId = await producer.send('build_image', { capabilities: [ahead] })
    const first = await producer.response(requestId)
    expect(first.ok, JSON.stringify(first.error)).toBe(true)
    expect(first.result).toMatchObject({ built: true })
    tags.add(first.result.tag)
    const builds = await buildEvents(all.events, requestId)
    all.stop()
    expect(builds.every((e) => e.workerId === '' && e.tag === first.result.tag)).toBe(true)
    expect(await producer.call('build_image', { capabilities: [ahead] })).toMatchObject({
      tag: first.result.tag,
      built: false,
    })
  })
})
