import { describe, expect, it } from 'vitest'
import {
  memoryService,
  refusal,
  registryOf,
  shellAgent,
} from '../../test/support/memory-service.ts'
import { TokenSigner } from './auth/jwt.ts'
import { workerConfigSchema } from './config.ts'
import { UnavailableError } from './errors.ts'
import { LABELS } from './labels.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { DEFAULT_POLICY } from './policy.ts'
import { TOKEN_FILE } from './worker-tokens.ts'

const tokens = {
  signer: new TokenSigner('a test secret that is long enough!!'),
  url: 'http://127.0.0.1:9',
}

describe('create', () => {
  it('starts a container, knows the worker and says creating, then running', async () => {
    const { service, runtime, create, statusEvents, keptState, events } = memoryService()
    let effects = 0
    const first = await create(
      { ttlSeconds: 600, labels: { team: 'a' } },
      { requestId: 'r-1', onEffect: () => effects++ },
    )
    expect(first).toMatchObject({ status: 'running', image: 'base', imageBuilt: false })
    expect(effects).toBe(1)
    expect(statusEvents(first.workerId)).toEqual(['creating:request', 'running:request'])
    expect(events.every((e) => e.requestId === 'r-1')).toBe(true)
    expect(await service.status({ workerId: first.workerId })).toMatchObject({
      state: 'running',
      agent: 'shell',
      labels: { team: 'a' },
      ttlSeconds: 600,
      expiresAt: first.expiresAt,
    })
    // Nothing was written after the start: the labels hold the state.
    const [container] = runtime.containers.values()
    expect(container!.labels[LABELS.stateInLabels]).toBe('true')
    expect(keptState(container!.id)).toBeUndefined()
  })

  it('ends with the signed state file when it writes files after the start', async () => {
    const { runtime, create, containerOf, keptState } = memoryService()
    const { workerId } = await create({ files: { 'TASK.md': 'the task' }, ttlSeconds: 600 })
    const containerId = await containerOf(workerId)
    expect(new TextDecoder().decode(runtime.files.get(`${containerId}:/workspace/TASK.md`))).toBe(
      'the task',
    )
    expect(runtime.containers.get(containerId)!.labels).not.toHaveProperty(LABELS.stateInLabels)
    expect(keptState(containerId)).toMatchObject({ ttlSeconds: 600, handedOut: true })
  })

  it('changes nothing when refused before the start', async () => {
    const { runtime, create, events } = memoryService({
      policy: { ...DEFAULT_POLICY, maxTtlSeconds: 3600 },
    })
    let effects = 0
    const e = await refusal(create({ ttlSeconds: 3601 }, { onEffect: () => effects++ }))
    expect(e).toMatchObject({ kind: 'bad_request' })
    expect(await refusal(create({ files: { '/etc/profile.d/x.sh': 'x' } }))).toMatchObject({
      kind: 'bad_request',
    })
    expect([effects, runtime.containers.size, events.length]).toEqual([0, 0, 0])
  })

  it('removes the container of a create that failed after the start, and says failed', async () => {
    const { service, runtime, create, events } = memoryService()
    const put = runtime.putFile.bind(runtime)
    runtime.putFile = async (id, path, content, opts) => {
      if (path.endsWith('TASK.md')) throw new UnavailableError('engine gone')
      return put(id, path, content, opts)
    }
    expect(await refusal(create({ files: { 'TASK.md': 'x' } }))).toMatchObject({
      kind: 'unavailable',
    })
    // The engine started it, then its answer was lost: found by its worker id and removed.
    const run = runtime.run.bind(runtime)
    runtime.run = async (spec) => {
      await run(spec)
      throw new UnavailableError('answer lost')
    }
    expect(await refusal(create())).toMatchObject({ message: 'answer lost' })
    expect(runtime.containers.size).toBe(0)
    expect(service.records()).toEqual([])
    const failed = events.filter((e) => e.type === 'status' && e.state === 'failed')
    expect(failed).toHaveLength(2)
    expect(failed[1]).toMatchObject({ reason: 'error', message: 'answer lost' })
  })
})

describe('delete', () => {
  it('removes the worker and everything it spawned, and says deleted', async () => {
    const { service, runtime, create, statusEvents } = memoryService()
    const parent = await create({ allowedTools: ['spawn'], maxChildren: 2, maxDepth: 2 })
    const spawn = (parentId: string) =>
      service.create(
        { config: workerConfigSchema.parse({ agent: 'shell', allowedTools: ['spawn'] }) },
        {},
        { parentId },
      )
    const child = await spawn(parent.workerId)
    const grandchild = await spawn(child.workerId)
    const other = await create()
    const gone = await service.delete({ workerId: parent.workerId })
    expect(gone).toEqual({
      workerId: parent.workerId,
      deleted: true,
      children: [child.workerId, grandchild.workerId],
    })
    expect(statusEvents(grandchild.workerId)).toContain('deleted:request')
    expect([...runtime.containers.values()].map((c) => c.labels[LABELS.workerId])).toEqual([
      other.workerId,
    ])
    expect(service.records().map((r) => r.workerId)).toEqual([other.workerId])
    expect(await refusal(service.status({ workerId: child.workerId }))).toMatchObject({
      kind: 'not_found',
      code: 'worker_not_found',
    })
  })

  it('forgets a worker whose container went away behind its back', async () => {
    const { service, runtime, create, containerOf } = memoryService()
    const { workerId } = await create()
    runtime.containers.delete(await containerOf(workerId))
    expect(await refusal(service.status({ workerId }))).toMatchObject({ kind: 'not_found' })
    expect(service.records()).toEqual([])
  })
})

describe('update', () => {
  it('writes the new deadlines into the worker before it holds them, and renews the token file', async () => {
    const { service, runtime, create, containerOf, keptState } = memoryService({ tokens })
    const { workerId, createdAt } = await create({ ttlSeconds: 600 })
    const containerId = await containerOf(workerId)
    const idle = await service.update({ workerId, idleSeconds: 5 })
    expect(idle).toMatchObject({ ttlSeconds: 600, idleSeconds: 5 })
    expect(keptState(containerId)).toMatchObject({ ttlSeconds: 600, idleSeconds: 5, createdAt })
    expect(runtime.files.has(`${containerId}:${TOKEN_FILE}`)).toBe(false)
    // The token file is written as the worker's user: a paused worker is resumed for it.
    await service.pause({ workerId })
    const longer = await service.update({ workerId, ttlSeconds: 7200 })
    expect(longer.expiresAt).toBe(new Date(Date.parse(createdAt) + 7_200_000).toISOString())
    expect(keptState(containerId)).toMatchObject({ ttlSeconds: 7200 })
    expect(runtime.files.has(`${containerId}:${TOKEN_FILE}`)).toBe(true)
    expect(runtime.containers.get(containerId)!.state).toBe('running')
  })

  it('keeps the record unchanged when the state file cannot be written', async () => {
    const { service, runtime, create } = memoryService()
    const { workerId } = await create({ ttlSeconds: 600 })
    runtime.putFile = async () => {
      throw new UnavailableError('engine gone')
    }
    expect(await refusal(service.update({ workerId, ttlSeconds: 60 }))).toMatchObject({
      kind: 'unavailable',
    })
    expect((await service.status({ workerId })).ttlSeconds).toBe(600)
  })
})

describe('pause, resume and commands', () => {
  it('pauses an idle worker only; a command resumes it, also when paused behind its back', async () => {
    const { service, runtime, create, containerOf, statusEvents } = memoryService()
    const { workerId } = await create()
    const containerId = await containerOf(workerId)
    expect(await service.pause({ workerId })).toEqual({ workerId, state: 'paused' })
    expect(
      (await service.sendCommand({ workerId, shell: 'echo hi', timeoutMs: 1000 })).exitCode,
    ).toBe(0)
    expect(runtime.containers.get(containerId)!.state).toBe('running')
    expect(statusEvents(workerId)).toEqual([
      'creating:request',
      'running:request',
      'paused:request',
      'running:request',
    ])
    await runtime.pause(containerId)
    expect(
      (await service.sendCommand({ workerId, argv: ['true'], timeoutMs: 1000 })).exitCode,
    ).toBe(0)
    expect(runtime.containers.get(containerId)!.state).toBe('running')

    let release = () => {}
    runtime.onExec = () =>
      new Promise(
        (r) =>
          (release = () =>
            r({ exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 })),
      )
    const running = service.sendCommand({ workerId, shell: 'sleep 1', timeoutMs: 1000 })
    await expect.poll(async () => (await service.status({ workerId })).commandRunning).toBe(true)
    expect(await refusal(service.pause({ workerId }))).toMatchObject({
      kind: 'conflict',
      code: 'worker_busy',
    })
    release()
    await running
    expect((await service.status({ workerId })).commandRunning).toBe(false)
  })

  it('runs a prompt through the agent it was created with and sums its usage', async () => {
    const counting = defineAgent({
      ...shellAgent,
      parse: (r) => {
        if (r.stdout.includes('fail')) throw new Error('no result line')
        return {
          text: r.stdout,
          raw: null,
          usage: { inputTokens: 3, outputTokens: 2, costUsd: 0.5 },
        }
      },
    })
    let registry = registryOf(counting)
    const { service, create, events } = memoryService({ plugins: () => registry })
    const { workerId } = await create()
    // A reload without the agent leaves the running worker as it was.
    registry = PluginRegistry.fromModules([])
    const { reply } = await service.sendCommand({ workerId, prompt: 'echo hello', timeoutMs: 1000 })
    expect(reply?.text).toContain('echo hello')
    expect(events.filter((e) => e.type === 'response')).toHaveLength(1)
    expect(
      await refusal(service.sendCommand({ workerId, prompt: 'fail', timeoutMs: 1000 })),
    ).toMatchObject({
      kind: 'bad_gateway',
      code: 'agent_error',
    })
    expect((await service.status({ workerId })).usage).toEqual({
      prompts: 1,
      inputTokens: 3,
      outputTokens: 2,
      costUsd: 0.5,
    })
  })

  it('persists the last activity now and then, so a restart keeps the idle deadline', async () => {
    let clock = Date.parse('2026-06-01T00:00:00Z')
    const now = () => new Date(clock)
    const { service, create, containerOf, keptState } = memoryService({
      now,
      persistActivityMs: 10_000,
    })
    const { workerId } = await create({ idleSeconds: 600 })
    const containerId = await containerOf(workerId)
    clock += 5_000
    await service.sendCommand({ workerId, argv: ['true'], timeoutMs: 1000 })
    expect(keptState(containerId)).toBeUndefined()
    clock += 10_000
    await service.sendCommand({ workerId, argv: ['true'], timeoutMs: 1000 })
    await expect
      .poll(() => keptState(containerId)?.lastActiveAt)
      .toBe(new Date(clock).toISOString())
  })
})

describe('workers of other instances', () => {
  it('are listed and looked at, not taken over unless adopted', async () => {
    const a = memoryService({ instance: 'a' })
    const b = memoryService({ instance: 'b', runtime: a.runtime })
    const mine = await b.create({ labels: { team: 'b' } })
    const theirs = await a.create({ labels: { team: 'a' } })
    const listed = await b.service.list({ labels: {} })
    expect(listed.workers.map((w) => w.workerId).sort()).toEqual(
      [mine.workerId, theirs.workerId].sort(),
    )
    expect(
      (await b.service.list({ labels: { team: 'a' } })).workers.map((w) => w.workerId),
    ).toEqual([theirs.workerId])
    expect((await b.service.get(theirs.workerId)).instance).toBe('a')
    expect(b.service.records().map((r) => r.workerId)).toEqual([mine.workerId])
    await b.service.adopt(theirs.workerId)
    expect(b.service.records().map((r) => r.workerId)).toContain(theirs.workerId)
  })

  it('cannot be the parent of a sub-worker made through this instance', async () => {
    const a = memoryService({ instance: 'a' })
    const b = memoryService({ instance: 'b', runtime: a.runtime })
    const parent = await a.create({ allowedTools: ['spawn'] })
    const e = await refusal(
      b.service.create(
        { config: workerConfigSchema.parse({ agent: 'shell' }) },
        {},
        { parentId: parent.workerId },
      ),
    )
    expect(e).toMatchObject({ kind: 'forbidden', code: 'not_your_instance' })
  })
})

describe('respond', () => {
  it("publishes the agent's message as a response event", async () => {
    const { service, create, events } = memoryService()
    const { workerId } = await create()
    expect(await service.respond({ workerId, text: 'halfway' }, { requestId: 'r-2' })).toEqual({
      workerId,
      published: true,
    })
    expect(events.at(-1)).toMatchObject({
      type: 'response',
      workerId,
      requestId: 'r-2',
      reply: { text: 'halfway' },
    })
  })
})
