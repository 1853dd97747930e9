import { describe, expect, it } from 'vitest'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { SpawnerError } from '../core/errors.ts'
import { EventBus, type SpawnerEvent } from '../core/events.ts'
import { defineAgent, defineCapability } from '../core/plugin/contract.ts'
import { PluginRegistry } from '../core/plugin/registry.ts'
import { WorkerService } from '../core/service.ts'
import { Dispatcher } from '../core/dispatcher.ts'
import { createApp } from './app.ts'

const registry = PluginRegistry.fromModules([
  {
    name: 'shell',
    module: {
      default: defineAgent({
        apiVersion: 'v1',
        name: 'shell',
        version: '1.0.0',
        description: 'd',
        prompt: (r) => ({ argv: ['bash', '-c', r.prompt] }),
        parse: (r) => ({ text: r.stdout, raw: null }),
      }),
    },
  },
  {
    name: 'jq',
    module: {
      default: defineCapability({
        apiVersion: 'v1',
        name: 'jq',
        version: '1.0.0',
        description: 'jq in the image',
        install: [{ apt: ['jq'] }],
      }),
    },
  },
])

/** The lines the classic builder prints for a two-step Dockerfile. */
const BUILD_LINES = ['Step 1/2 : FROM img', ' ---> 1234', 'Step 2/2 : RUN apt-get install jq', 'ok']

/** A runtime whose builds print `BUILD_LINES`, or fail at the second step. */
class BuildingRuntime extends MemoryRuntime {
  fail = false
  /** Builds wait for this after their first line (to let another create join). */
  gate: Promise<void> = Promise.resolve()
  override async buildImage(
    tag: string,
    dockerfile: string,
    opts?: { onProgress?: (line: string) => void },
  ) {
    for (const [i, line] of BUILD_LINES.entries()) {
      if (this.fail && i === 3)
        throw new SpawnerError('image_build_failed', `building ${tag} failed: E: no jq`)
      opts?.onProgress?.(line)
      if (i === 0) await this.gate
    }
    return super.buildImage(tag, dockerfile)
  }
}

const setup = () => {
  const runtime = new BuildingRuntime()
  runtime.images.set('img', 'sha256:img')
  const events = new EventBus()
  const seen: SpawnerEvent[] = []
  events.subscribe((e) => seen.push(e))
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'img',
    hostEnv: {},
    events,
  })
  const app = createApp({ service })
  return { app, runtime, service, seen }
}

/** The events of an SSE body, parsed. */
const sse = async (res: Response) =>
  (await res.text())
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim()
      return { event: field('event'), id: field('id'), data: JSON.parse(field('data') ?? 'null') }
    })

const post = (app: ReturnType<typeof createApp>, path: string, body: unknown, stream = true) =>
  app.request(path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(stream ? { accept: 'text/event-stream' } : {}),
    },
    body: JSON.stringify(body),
  })

describe('progress of image builds', () => {
  it('streams a create: the build started, its lines with their steps, finished, then the result last', async () => {
    const { app, seen } = setup()
    const res = await post(app, '/v1/workers', { agent: 'shell', capabilities: ['jq'] })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const events = await sse(res)
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => String(i + 1)))
    expect(events.map((e) => e.event)).toEqual([
      ...Array(2 + BUILD_LINES.length).fill('progress'),
      'result',
    ])
    const progress = events.slice(0, -1).map((e) => e.data)
    expect(progress.map((p) => p.phase)).toEqual([
      'started',
      'progress',
      'progress',
      'progress',
      'progress',
      'finished',
    ])
    expect(progress.slice(1, -1).map((p) => [p.step, p.steps, p.message])).toEqual([
      [1, 2, BUILD_LINES[0]],
      [1, 2, BUILD_LINES[1]],
      [2, 2, BUILD_LINES[2]],
      [2, 2, BUILD_LINES[3]],
    ])
    const tag = progress[0].tag
    expect(tag).toMatch(/^workers-spawner\/derived:/)
    const result = events.at(-1)!.data
    expect(result).toMatchObject({ status: 'running', image: tag, imageBuilt: true })
    // The same progress went out as events, for the worker being created.
    const builds = seen.filter((e) => e.type === 'image_build')
    expect(builds.map((e) => e.message)).toEqual(progress.map((p) => p.message))
    expect(new Set(builds.map((e) => e.workerId))).toEqual(new Set([result.workerId]))
  })

  it('answers a create without Accept: text/event-stream as before, and streams no build when the image is there', async () => {
    const { app } = setup()
    const plain = await post(app, '/v1/workers', { agent: 'shell', capabilities: ['jq'] }, false)
    expect(plain.status).toBe(201)
    expect(await plain.json()).toMatchObject({ imageBuilt: true })
    const again = await sse(
      await post(app, '/v1/workers', { agent: 'shell', capabilities: ['jq'] }),
    )
    expect(again.map((e) => e.event)).toEqual(['result'])
    expect(again[0]!.data).toMatchObject({ imageBuilt: false })
  })

  it('ends a failed build with its failed progress, then an error event, and no result', async () => {
    const { app, runtime, seen } = setup()
    runtime.fail = true
    const events = await sse(
      await post(app, '/v1/workers', { agent: 'shell', capabilities: ['jq'] }),
    )
    expect(events.map((e) => e.event)).toEqual([
      'progress',
      'progress',
      'progress',
      'progress',
      'progress',
      'error',
    ])
    expect(events[4]!.data).toMatchObject({ phase: 'failed', step: 2, steps: 2 })
    expect(events[4]!.data.message).toContain('E: no jq')
    expect(events.at(-1)!.data).toMatchObject({ error: { code: 'image_build_failed' } })
    const failed = seen.filter((e) => e.type === 'status' && e.state === 'failed')
    expect(failed).toHaveLength(1)
  })

  it('builds a plugin set ahead of time: built, then already there', async () => {
    const { app, runtime } = setup()
    const first = await post(app, '/v1/images', { agent: 'shell', capabilities: ['jq'] }, false)
    expect(first.status).toBe(200)
    const built = await first.json()
    expect(built).toMatchObject({
      built: true,
      tag: expect.stringMatching(/^workers-spawner\/derived:/),
    })
    expect(built.durationMs).toBeGreaterThanOrEqual(0)
    const second = await sse(await post(app, '/v1/images', { capabilities: ['jq'] }))
    expect(second.map((e) => e.event)).toEqual(['result'])
    expect(second[0]!.data).toMatchObject({ tag: built.tag, built: false })
    expect(runtime.builds).toEqual([built.tag])
    // A create with that set runs the image built ahead.
    const created = await post(app, '/v1/workers', { agent: 'shell', capabilities: ['jq'] }, false)
    expect(await created.json()).toMatchObject({ image: built.tag, imageBuilt: false })
  })

  it('streams an ahead-of-time build and sends it out as events of no worker', async () => {
    const { app, seen } = setup()
    const events = await sse(await post(app, '/v1/images', { capabilities: ['jq'] }))
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { built: true } })
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true)
    const builds = seen.filter((e) => e.type === 'image_build')
    expect(builds).toHaveLength(events.length - 1)
    expect(builds.every((e) => e.workerId === '')).toBe(true)
  })

  it('lets only operators build ahead, and shows both streams in the OpenAPI document', async () => {
    const { app, service } = setup()
    const worker = { kind: 'worker', workerId: 'w-1', tools: ['images', 'spawn'] } as const
    const refused = new Dispatcher({ service }).execute(worker, 'build_image', {})
    await expect(refused).rejects.toMatchObject({ code: 'forbidden' })
    const doc = await (await app.request('/openapi.json')).json()
    const images = doc.paths['/v1/images'].post
    expect(images.operationId).toBe('build_image')
    expect(Object.keys(images.responses['200'].content)).toContain('text/event-stream')
    const create = doc.paths['/v1/workers'].post
    expect(Object.keys(create.responses['201'].content)).toContain('text/event-stream')
  })

  it('refuses unknown plugins and agents given as capabilities', async () => {
    const { app } = setup()
    const unknown = await post(app, '/v1/images', { capabilities: ['nope'] }, false)
    expect(unknown.status).toBe(404)
    const agent = await post(app, '/v1/images', { capabilities: ['shell'] }, false)
    expect(agent.status).toBe(400)
  })

  it('shows progress to a second create that waits on the same build', async () => {
    const { service, runtime } = setup()
    let release!: () => void
    runtime.gate = new Promise((resolve) => (release = resolve))
    const a: string[] = []
    const b: string[] = []
    let joined!: () => void
    const waiting = new Promise<void>((resolve) => (joined = resolve))
    const config = service.parseConfig({ agent: 'shell', capabilities: ['jq'] })
    const first = service.create({ config }, { onBuild: (p) => a.push(p.phase) })
    // The second starts once the first's build is under way.
    await new Promise<void>((resolve) => {
      const stop = service.events.subscribe((e) => {
        if (e.type === 'image_build' && e.step === 1) {
          stop()
          resolve()
        }
      })
    })
    const second = service.create(
      { config },
      {
        onBuild: (p) => {
          b.push(p.message)
          joined()
        },
      },
    )
    await waiting
    release()
    const [x, y] = await Promise.all([first, second])
    expect([x.imageBuilt, y.imageBuilt]).toEqual([true, false])
    expect(a[0]).toBe('started')
    expect(a.at(-1)).toBe('finished')
    expect(b[0]).toMatch(/^waiting for the build of workers-spawner\/derived:/)
    expect(b.slice(1)).toEqual([BUILD_LINES[1], BUILD_LINES[2], BUILD_LINES[3], `built ${x.image}`])
    expect(runtime.builds).toHaveLength(1)
  })

  it('refuses creates on a held base with not_ready and the reason, and takes them once released or once the base is there', async () => {
    const { app, service, runtime } = setup()
    runtime.images.delete('img')
    service.images.holdBase('img', () => 'the worker image img is being built (step 3/9)')
    const refused = await post(app, '/v1/workers', { agent: 'shell' }, false)
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({
      error: { code: 'not_ready', message: 'the worker image img is being built (step 3/9)' },
    })
    runtime.images.set('img', 'sha256:img')
    expect((await post(app, '/v1/workers', { agent: 'shell' }, false)).status).toBe(201)
    service.images.holdBase('img', () => 'held')
    service.images.releaseBase('img')
    expect((await post(app, '/v1/workers', { agent: 'shell' }, false)).status).toBe(201)
  })
})
