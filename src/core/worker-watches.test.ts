import { describe, expect, it } from 'vitest'
import shell from '../../plugins/shell/index.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import type { Principal } from './auth/authorize.ts'
import { workerConfigSchema } from './config.ts'
import { Dispatcher, type Outcome, type StreamEvent } from './dispatcher.ts'
import type { SpawnerEvent } from './events.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WorkerService } from './service.ts'
import type { FileChange } from './runtime.ts'
import { DEFAULT_WATCH_LIMITS } from './worker-watches.ts'

const registry = PluginRegistry.fromModules([{ name: 'shell', module: { default: shell } }])

const setup = async () => {
  const runtime = new MemoryRuntime()
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'img',
    hostEnv: {},
  })
  const dispatcher = new Dispatcher({ service })
  const config = (tools: string[]) =>
    workerConfigSchema.parse({ agent: 'shell', allowedTools: tools, maxChildren: 2 })
  const { workerId: parent } = await service.create({ config: config(['spawn', 'file']) })
  const { workerId: child } = await service.create(
    { config: config([]) },
    { caller: parent },
    { parentId: parent },
  )
  const { workerId: other } = await service.create({ config: config([]) })
  const containerOf = async (id: string) => (await service.get(id)).containerId
  const events: SpawnerEvent[] = []
  service.events.subscribe((e) => events.push(e))
  return { runtime, service, dispatcher, parent, child, other, containerOf, events }
}

const operator: Principal = { kind: 'operator' }
const asWorker = (workerId: string, tools = ['file']): Principal => ({
  kind: 'worker',
  workerId,
  tools,
})

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('not refused')
    },
    (err: { code: string; kind: string; message: string }) => err,
  )

/** Opens a watch stream and reads it in the background; `next` waits for the n-th event. */
const open = async (dispatcher: Dispatcher, who: Principal, input: object) => {
  const abort = new AbortController()
  const out: Outcome = await dispatcher.execute(who, 'watch', input, {
    stream: true,
    signal: abort.signal,
  })
  if (out.kind !== 'stream') throw new Error(`expected a stream, got ${out.kind}`)
  const events: StreamEvent[] = []
  const waiters: (() => void)[] = []
  const push = (e: StreamEvent) => {
    events.push(e)
    waiters.splice(0).forEach((w) => w())
  }
  // A failure comes out of the iteration: kept as the `error` event the HTTP route makes of it.
  const done = (async () => {
    try {
      for await (const e of out.stream) push(e)
    } catch (err) {
      push({ event: 'error', data: err })
    }
  })()
  const next = async (n: number) => {
    while (events.length < n) await new Promise<void>((r) => waiters.push(r))
    return events[n - 1]!
  }
  return { events, next, done, abort: () => abort.abort() }
}

/** Resolves once the runtime holds no watch of container `id`. */
const gone = async (runtime: MemoryRuntime, id: string) => {
  while ((runtime.watchers.get(id)?.size ?? 0) > 0) await new Promise((r) => setImmediate(r))
}

/** Resolves once the runtime holds `n` watches of container `id`. */
const watching = async (runtime: MemoryRuntime, id: string, n = 1) => {
  while ((runtime.watchers.get(id)?.size ?? 0) < n) await new Promise((r) => setImmediate(r))
}

describe('watch', () => {
  it('streams file_changed items, then ends with how many when the client leaves', async () => {
    const { runtime, dispatcher, service, parent, containerOf } = await setup()
    const w = await open(dispatcher, operator, { workerId: parent })
    const id = await containerOf(parent)
    await watching(runtime, id)
    await service.putBytes(parent, '/workspace/a.txt', new Uint8Array([1]))
    runtime.change(id, { type: 'deleted', path: '/workspace/a.txt', dir: false })
    runtime.change(id, { type: 'created', path: '/etc/elsewhere', dir: false })
    expect(await w.next(1)).toEqual({
      event: 'file_changed',
      data: { type: 'created', path: '/workspace/a.txt', dir: false },
    })
    expect((await w.next(2)).data).toEqual({
      type: 'deleted',
      path: '/workspace/a.txt',
      dir: false,
    })
    // The client left: the stream ends at once, and the watch in the container with it.
    w.abort()
    await w.done
    expect(w.events).toHaveLength(2)
    await gone(runtime, id)
  })

  it('watches the workdir by default, recursively, and passes the read_file roots', async () => {
    const { runtime, dispatcher, parent, containerOf } = await setup()
    const w = await open(dispatcher, operator, {
      workerId: parent,
      path: '/tmp/x/../y',
      recursive: 'false',
    })
    const id = await containerOf(parent)
    await watching(runtime, id)
    const [req] = runtime.watchers.get(id)!
    expect(req).toMatchObject({
      path: '/tmp/y',
      recursive: false,
      roots: ['/workspace', '/tmp', '/home/worker'],
    })
    w.abort()
    await w.done
  })

  it('refuses a path outside the roots before it watches anything', async () => {
    const { runtime, dispatcher, parent } = await setup()
    for (const path of ['/etc', '/workspace/../etc', 'relative', '/']) {
      const err = await refusal(
        dispatcher.execute(operator, 'watch', { workerId: parent, path }, { stream: true }),
      )
      expect(err.kind, path).toBe('bad_request')
    }
    expect(runtime.watchers.size).toBe(0)
  })

  it('lets a worker watch itself and its sub-workers only, with the file tool', async () => {
    const { runtime, dispatcher, parent, child, other, containerOf } = await setup()
    const own = await open(dispatcher, asWorker(parent), { workerId: parent })
    const sub = await open(dispatcher, asWorker(parent), { workerId: child })
    await watching(runtime, await containerOf(parent))
    await watching(runtime, await containerOf(child))
    const theirs = await refusal(
      dispatcher.execute(asWorker(parent), 'watch', { workerId: other }, { stream: true }),
    )
    expect(theirs.kind).toBe('forbidden')
    const noTool = await refusal(
      dispatcher.execute(asWorker(parent, []), 'watch', { workerId: parent }, { stream: true }),
    )
    expect(noTool).toMatchObject({ kind: 'forbidden', code: 'tool_not_allowed' })
    own.abort()
    sub.abort()
    await Promise.all([own.done, sub.done])
  })

  it('refuses the ninth watch of one worker, and of one caller, with 429 too_many_watches', async () => {
    const { runtime, dispatcher, parent, child, containerOf } = await setup()
    const id = await containerOf(parent)
    const open8 = []
    for (let i = 0; i < 8; i++) open8.push(await open(dispatcher, operator, { workerId: parent }))
    await watching(runtime, id, 8)
    const ninth = await refusal(
      dispatcher.execute(operator, 'watch', { workerId: parent }, { stream: true }),
    )
    expect(ninth).toMatchObject({ code: 'too_many_watches', kind: 'too_many' })
    open8.forEach((w) => w.abort())
    await Promise.all(open8.map((w) => w.done))

    // One calling worker: 4 on itself and 4 on its sub-worker, then no more on either.
    const mine = []
    for (const target of [parent, child]) {
      for (let i = 0; i < 4; i++)
        mine.push(await open(dispatcher, asWorker(parent), { workerId: target }))
    }
    await watching(runtime, await containerOf(child), 4)
    await watching(runtime, id, 4)
    const more = await refusal(
      dispatcher.execute(asWorker(parent), 'watch', { workerId: child }, { stream: true }),
    )
    expect(more).toMatchObject({ code: 'too_many_watches' })
    // The operator is not that caller: it may still watch the child.
    const op = await open(dispatcher, operator, { workerId: child })
    await watching(runtime, await containerOf(child), 5)
    for (const w of [...mine, op]) w.abort()
    await Promise.all([...mine, op].map((w) => w.done))
    expect(runtime.watchers.get(id)?.size ?? 0).toBe(0)
  })

  it('drops what is outside the directory, and says overflow past maxChangesPerSecond', async () => {
    const { runtime, dispatcher, parent, containerOf } = await setup()
    const w = await open(dispatcher, operator, { workerId: parent, path: '/workspace/src' })
    const id = await containerOf(parent)
    await watching(runtime, id)
    // The runtime relays what the worker's daemon (or polling helper) says: the worker's agent
    // may say anything, as fast as it likes.
    const [req] = runtime.watchers.get(id)!
    req!.onChange({ type: 'changed', path: '/etc/shadow', dir: false })
    req!.onChange({ type: 'changed', path: '/workspace/srcx', dir: false })
    req!.onChange({ type: 'changed', path: `/workspace/src/${'a/'.repeat(10_000)}b`, dir: false })
    req!.onChange({ type: 'created', path: '/workspace/src/a.ts', dir: false })
    expect((await w.next(1)).data).toEqual({
      type: 'created',
      path: '/workspace/src/a.ts',
      dir: false,
    })
    for (let i = 0; i < 5000; i++) {
      req!.onChange({ type: 'changed', path: `/workspace/src/f${i}`, dir: false })
    }
    let n = 2
    while (n < 5002 && ((await w.next(n)).data as FileChange).type !== 'overflow') n++
    expect(n).toBeLessThanOrEqual(DEFAULT_WATCH_LIMITS.maxChangesPerSecond + 2)
    w.abort()
    await w.done
  })

  it('ends when the worker is deleted', async () => {
    const { runtime, dispatcher, service, parent, containerOf } = await setup()
    const w = await open(dispatcher, operator, { workerId: parent })
    await watching(runtime, await containerOf(parent))
    await service.delete({ workerId: parent })
    await w.done
    expect(w.events.at(-1)).toMatchObject({ event: 'end', data: { ended: 'worker_gone' } })
  })

  it('answered once (Redis): publishes file_changed events of the worker for durationMs', async () => {
    const { runtime, dispatcher, parent, containerOf, events } = await setup()
    const id = await containerOf(parent)
    const answer = dispatcher.execute(
      operator,
      'watch',
      { workerId: parent, durationMs: 60_000 },
      { hooks: { requestId: 'r-1' } },
    )
    await watching(runtime, id)
    runtime.change(id, { type: 'created', path: '/workspace/n', dir: true })
    runtime.change(id, { type: 'overflow' })
    const changed = events.filter((e) => e.type === 'file_changed')
    expect(changed).toEqual([
      expect.objectContaining({
        type: 'file_changed',
        workerId: parent,
        requestId: 'r-1',
        change: 'created',
        path: '/workspace/n',
        dir: true,
      }),
      expect.objectContaining({ type: 'file_changed', workerId: parent, change: 'overflow' }),
    ])
    expect(changed[1]).not.toHaveProperty('path')
    // It ends at its deadline; here the worker's deletion ends it sooner.
    await dispatcher.service.delete({ workerId: parent })
    expect(await answer).toEqual({
      kind: 'result',
      result: { workerId: parent, path: '/workspace', changes: 2, ended: 'worker_gone' },
    })
  })

  it('is refused on a runtime that cannot watch', async () => {
    const { service, dispatcher, parent } = await setup()
    const bare = service.runtime as { watch?: unknown }
    bare.watch = undefined
    const err = await refusal(
      dispatcher.execute(operator, 'watch', { workerId: parent }, { stream: true }),
    )
    expect(err).toMatchObject({ code: 'watch_unavailable', kind: 'conflict' })
    // Answered once too (Redis).
    expect(
      await refusal(dispatcher.execute(operator, 'watch', { workerId: parent })),
    ).toMatchObject({ code: 'watch_unavailable' })
  })

  it('ends after durationMs when one is given', async () => {
    const { dispatcher, parent } = await setup()
    const w = await open(dispatcher, operator, { workerId: parent, durationMs: '20' })
    await w.done
    expect(w.events).toEqual([
      { event: 'end', data: expect.objectContaining({ ended: 'duration' }) },
    ])
  })
})
