import { describe, expect, it } from 'vitest'
import shell from '../../plugins/shell/index.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import type { Principal } from './auth/authorize.ts'
import { workerConfigSchema } from './config.ts'
import {
  Dispatcher,
  type CommandStream,
  type ForwardOptions,
  type Forwarder,
  type Outcome,
  type StreamEvent,
} from './dispatcher.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { WorkerService } from './service.ts'

const registry = PluginRegistry.fromModules([{ name: 'shell', module: { default: shell } }])

/** A forwarder whose owners the test sets; forwarded calls are recorded and answered by `answer`. */
class FakeForwarder implements Forwarder {
  owners = new Map<string, { instance: string; alive: boolean }>()
  claimed: string[] = []
  calls: { owner: string; command: string; input: unknown; opts: ForwardOptions }[] = []
  answer: (command: string, input: any, opts: ForwardOptions) => Promise<unknown> = async () => ({})

  async ownerOf(workerId: string) {
    return this.owners.get(workerId)
  }
  async claim(workerId: string) {
    this.claimed.push(workerId)
  }
  async call(owner: string, command: string, input: unknown, opts: ForwardOptions) {
    this.calls.push({ owner, command, input, opts })
    return this.answer(command, input, opts)
  }
}

const setup = async () => {
  const runtime = new MemoryRuntime()
  const service = new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'img',
    hostEnv: {},
  })
  const forwarder = new FakeForwarder()
  const dispatcher = new Dispatcher({ service, forwarder, forwardSlackMs: 1000 })
  const config = (tools: string[]) =>
    workerConfigSchema.parse({ agent: 'shell', allowedTools: tools, maxChildren: 2 })
  const { workerId: parent } = await service.create({
    config: config(['spawn', 'status', 'send', 'plugins']),
  })
  const { workerId: child } = await service.create(
    { config: config([]) },
    { caller: parent },
    { parentId: parent },
  )
  const { workerId: other } = await service.create({ config: config([]) })
  const asWorker = (workerId: string, tools: string[]): Principal => ({
    kind: 'worker',
    workerId,
    tools,
  })
  return { runtime, service, forwarder, dispatcher, parent, child, other, asWorker }
}

const operator: Principal = { kind: 'operator' }

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('not refused')
    },
    (err: { code: string; kind: string; message: string }) => err,
  )

const result = (out: Outcome) => {
  if (out.kind !== 'result') throw new Error(`expected a result, got ${out.kind}`)
  return out.result as any
}

const collect = async (out: Outcome) => {
  if (out.kind !== 'stream') throw new Error(`expected a stream, got ${out.kind}`)
  const events: StreamEvent[] = []
  for await (const e of out.stream) events.push(e)
  return { events, numbered: out.stream.numbered }
}

describe('Dispatcher', () => {
  it('validates before it authorizes, naming the input as the adapter does', async () => {
    const { dispatcher, asWorker, parent } = await setup()
    const bad = await refusal(
      dispatcher.execute(
        asWorker(parent, []),
        'status',
        { workerId: 'x' },
        { inputName: 'payload' },
      ),
    )
    expect(bad).toMatchObject({ kind: 'bad_request', code: 'bad_request' })
    expect(bad.message).toMatch(/^invalid status payload: workerId: /)
    expect(await refusal(dispatcher.execute(operator, 'nope', {}))).toMatchObject({
      kind: 'bad_request',
    })
  })

  it('authorizes by the command scope: tools, own tree, operators only', async () => {
    const { dispatcher, asWorker, parent, child, other } = await setup()
    const me = asWorker(parent, ['status', 'plugins', 'spawn'])
    expect(result(await dispatcher.execute(me, 'status', { workerId: child })).workerId).toBe(child)
    expect(await refusal(dispatcher.execute(me, 'status', { workerId: other }))).toMatchObject({
      code: 'not_your_worker',
    })
    expect(await refusal(dispatcher.execute(me, 'delete', { workerId: child }))).toMatchObject({
      code: 'tool_not_allowed',
    })
    expect(await refusal(dispatcher.execute(me, 'plugins', {}))).toMatchObject({
      kind: 'forbidden',
      code: 'forbidden',
    })
    expect(result(await dispatcher.execute(operator, 'status', { workerId: other })).workerId).toBe(
      other,
    )
  })

  it('shows a worker only itself and what it spawned in a listing', async () => {
    const { dispatcher, asWorker, parent, child, other } = await setup()
    const mine = result(await dispatcher.execute(asWorker(parent, ['status']), 'list', {}))
    expect(mine.workers.map((w: { workerId: string }) => w.workerId).sort()).toEqual(
      [parent, child].sort(),
    )
    const forwarded = result(
      await dispatcher.execute({ kind: 'forwarded', workerId: child }, 'list', {}),
    )
    expect(forwarded.workers.map((w: { workerId: string }) => w.workerId)).toEqual([child])
    const all = result(await dispatcher.execute(operator, 'list', {}))
    expect(all.workers.map((w: { workerId: string }) => w.workerId)).toContain(other)
  })

  it("makes a worker's create a sub-worker of it", async () => {
    const { dispatcher, asWorker, service, parent } = await setup()
    const created = result(
      await dispatcher.execute(asWorker(parent, ['spawn']), 'create', {
        config: { agent: 'shell' },
      }),
    )
    expect((await service.status({ workerId: created.workerId })).parentId).toBe(parent)
  })

  it('forwards to a live owner with the caller and a deadline past the command own', async () => {
    const { dispatcher, forwarder, asWorker, parent, child } = await setup()
    forwarder.owners.set(child, { instance: 'b', alive: true })
    forwarder.answer = async () => ({
      exitCode: 0,
      stdout: 'there\n',
      stderr: '',
      timedOut: false,
      durationMs: 1,
    })
    const out = await dispatcher.execute(asWorker(parent, ['send']), 'send_command', {
      workerId: child,
      shell: 'x',
      timeoutMs: 5000,
    })
    expect(result(out).stdout).toBe('there\n')
    expect(forwarder.calls).toMatchObject([
      { owner: 'b', command: 'send_command', opts: { caller: parent, timeoutMs: 6000 } },
    ])
    // Refused here before anything is forwarded.
    await refusal(
      dispatcher.execute(asWorker(parent, []), 'send_command', { workerId: child, shell: 'x' }),
    )
    expect(forwarder.calls).toHaveLength(1)
  })

  it('moves bytes raw here, and as base64 to another instance', async () => {
    const { dispatcher, forwarder, runtime, child, other } = await setup()
    const bytes = new Uint8Array([0, 1, 255])
    const put = await dispatcher.execute(
      operator,
      'send_file',
      { workerId: other, path: '/tmp/b' },
      { body: async () => bytes },
    )
    expect(result(put)).toEqual({ path: '/tmp/b', size: 3 })
    expect([...runtime.files.entries()].find(([k]) => k.endsWith(':/tmp/b'))?.[1]).toEqual(bytes)
    const got = await dispatcher.execute(
      operator,
      'read_file',
      { workerId: other, path: '/tmp/b' },
      { bytes: true },
    )
    expect(got).toEqual({ kind: 'bytes', path: '/tmp/b', bytes })

    forwarder.owners.set(child, { instance: 'b', alive: true })
    forwarder.answer = async (command, input) =>
      command === 'send_file'
        ? { path: input.path, size: 3 }
        : { path: '/tmp/c', size: 3, encoding: 'base64', content: 'AAH/' }
    await dispatcher.execute(
      operator,
      'send_file',
      { workerId: child, path: '/tmp/c', mode: '0600' },
      { body: async () => bytes },
    )
    expect(forwarder.calls[0]!.input).toEqual({
      workerId: child,
      path: '/tmp/c',
      mode: 0o600,
      content: 'AAH/',
      encoding: 'base64',
    })
    const remote = await dispatcher.execute(
      operator,
      'read_file',
      { workerId: child, path: '/tmp/c' },
      { bytes: true },
    )
    expect(forwarder.calls[1]!.input).toMatchObject({ encoding: 'base64' })
    expect(remote).toEqual({ kind: 'bytes', path: '/tmp/c', bytes })
  })

  it('streams a command here: items as they come, then the result; nothing runs unread', async () => {
    const { dispatcher, runtime, other } = await setup()
    let runs = 0
    runtime.onExec = async (_id, req) => {
      runs++
      req.onOutput?.('stdout', 'a\n')
      req.onOutput?.('stderr', 'b\n')
      return { exitCode: 0, stdout: 'a\n', stderr: 'b\n', timedOut: false, durationMs: 1 }
    }
    const out = await dispatcher.execute(
      operator,
      'send_command',
      { workerId: other, shell: 'x' },
      { stream: true },
    )
    expect(runs).toBe(0)
    const { events, numbered } = await collect(out)
    expect(numbered).toBe(true)
    expect(events.map((e) => e.event)).toEqual(['output', 'output', 'result'])
    expect(events[0]!.data).toEqual({ stream: 'stdout', data: 'a\n' })
    expect(events[2]!.data).toMatchObject({ exitCode: 0, stdout: 'a\n' })
    // A stream opens only for a worker that exists.
    const missing = await refusal(
      dispatcher.execute(operator, 'logs', { workerId: 'w-0000000000000000' }, { stream: true }),
    )
    expect(missing).toMatchObject({ kind: 'not_found' })
  })

  it('stops a stream when its reader stops, and aborts the command', async () => {
    const { dispatcher, other } = await setup()
    const out = await dispatcher.execute(operator, 'logs', { workerId: other }, { stream: true })
    const stream = (out as { stream: CommandStream }).stream
    for await (const e of stream) {
      expect(e).toMatchObject({ event: 'log', data: { text: 'ready' } })
      break
    }
    const abort = new AbortController()
    const again = await dispatcher.execute(
      operator,
      'logs',
      { workerId: other },
      { stream: true, signal: abort.signal },
    )
    const events: string[] = []
    for await (const e of (again as { stream: CommandStream }).stream) {
      events.push(e.event)
      abort.abort()
    }
    expect(events).toEqual(['log'])
  })

  it("relays a forwarded command's output as its stream; a stream only the owner has is refused", async () => {
    const { dispatcher, forwarder, child } = await setup()
    forwarder.owners.set(child, { instance: 'b', alive: true })
    forwarder.answer = async (_c, _i, opts) => {
      opts.onOutput?.('stdout', 'far\n')
      return { exitCode: 0, stdout: 'far\n', stderr: '', timedOut: false, durationMs: 1 }
    }
    const out = await dispatcher.execute(
      operator,
      'send_command',
      { workerId: child, shell: 'x' },
      { stream: true },
    )
    const { events } = await collect(out)
    expect(events).toEqual([
      { event: 'output', data: { stream: 'stdout', data: 'far\n' } },
      { event: 'result', data: expect.objectContaining({ stdout: 'far\n' }) },
    ])
    const follow = await refusal(
      dispatcher.execute(operator, 'logs', { workerId: child }, { stream: true }),
    )
    expect(follow).toMatchObject({ kind: 'conflict', code: 'stream_not_forwarded' })
    expect(follow.message).toContain("'b'")
  })

  it('takes over a stopped owner worker it can reach; one it cannot stays the owner', async () => {
    const { dispatcher, forwarder, service, other } = await setup()
    forwarder.owners.set(other, { instance: 'gone', alive: false })
    const status = await dispatcher.execute(operator, 'status', { workerId: other })
    expect(result(status).workerId).toBe(other)
    expect(forwarder.claimed).toEqual([other])
    expect(forwarder.calls).toEqual([])

    const elsewhere = 'w-00000000000000aa'
    forwarder.owners.set(elsewhere, { instance: 'gone', alive: false })
    const call = await dispatcher.prepare(operator, 'status', { workerId: elsewhere })
    expect(call.owner).toEqual({ instance: 'gone', alive: false })
    // Waited for here, it is not found; a queue hands it to its owner instead.
    expect(await refusal(dispatcher.run(call))).toMatchObject({ kind: 'not_found' })
    expect(service.records().map((r) => r.workerId)).toContain(other)
  })
})
