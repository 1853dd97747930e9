import { describe, expect, it, vi } from 'vitest'
import { gatewayService } from '../../test/support/gateway-service.ts'
import { memoryService, refusal } from '../../test/support/memory-service.ts'
import { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { workerConfigSchema } from './config.ts'
import { LABELS } from './labels.ts'
import { DEFAULT_POLICY } from './policy.ts'
import { WarmPools } from './pool.ts'
import { STATE_FILE } from './worker-state.ts'
import { TOKEN_FILE } from './worker-tokens.ts'

const text = (bytes: Uint8Array | undefined) => bytes && new TextDecoder().decode(bytes)
const FILE = '/workspace/notes.txt'

/** A service whose shell agent's prompts write FILE, so a checkpoint has something to keep. */
const setup = (opts: Parameters<typeof memoryService>[0] = {}) => {
  const svc = memoryService(opts)
  const write = async (workerId: string, content: string) =>
    svc.service.sendFile({ workerId, path: FILE, content, encoding: 'utf8' })
  const read = async (workerId: string) =>
    text(svc.runtime.files.get(`${await svc.containerOf(workerId)}:${FILE}`))
  return { ...svc, write, read }
}

describe('checkpoints', () => {
  it('restore puts the files back under the same worker id, in a new container', async () => {
    const { service, create, write, read, containerOf, runtime } = setup()
    const { workerId } = await create()
    await write(workerId, 'one')
    const cp = await service.checkpoint({ workerId })
    expect(cp).toMatchObject({ workerId, turns: 0, auto: false })
    await write(workerId, 'two')
    const before = await containerOf(workerId)

    const restored = await service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId })

    expect(restored).toMatchObject({ workerId, checkpointId: cp.checkpointId, state: 'running' })
    expect(await read(workerId)).toBe('one')
    const after = await containerOf(workerId)
    expect(after).not.toBe(before)
    expect(runtime.containers.has(before)).toBe(false)
    // Commands go to the new container, and its state file is this worker's.
    expect((await service.status({ workerId })).state).toBe('running')
    expect(runtime.files.has(`${after}:${STATE_FILE}`)).toBe(true)
  })

  it('a command that arrives during a restore waits for it and runs in the new container', async () => {
    const { service, create, runtime, containerOf } = setup()
    const { workerId } = await create()
    const cp = await service.checkpoint({ workerId })
    const old = await containerOf(workerId)
    // The new container's start waits until the command has arrived.
    let started!: () => void
    const arrived = new Promise<void>((r) => (started = r))
    const run = runtime.run.bind(runtime)
    runtime.run = async (spec) => {
      await arrived
      return run(spec)
    }
    const ran: string[] = []
    runtime.onExec = async (id) => {
      ran.push(id)
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }
    }
    const restoring = service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId })
    await expect.poll(async () => !!(await service.get(workerId)).pausing).toBe(true)
    const command = service.sendCommand({ workerId, shell: 'true', timeoutMs: 1000 })
    started()
    await restoring
    await command
    expect(ran).toEqual([await containerOf(workerId)])
    expect(ran).not.toContain(old)
  })

  it('lists checkpoints oldest first and deletes them', async () => {
    const { service, create } = setup()
    const { workerId } = await create()
    const a = await service.checkpoint({ workerId })
    const b = await service.checkpoint({ workerId })
    const listed = await service.listCheckpoints({ workerId })
    expect(listed.checkpoints.map((c) => c.checkpointId)).toEqual([a.checkpointId, b.checkpointId])

    await service.deleteCheckpoint({ workerId, checkpointId: a.checkpointId })
    expect((await service.listCheckpoints({ workerId })).checkpoints).toHaveLength(1)
    const gone = await refusal(service.deleteCheckpoint({ workerId, checkpointId: a.checkpointId }))
    expect(gone.code).toBe('checkpoint_not_found')
  })

  it("a worker's checkpoint ids do not reach another worker's", async () => {
    const { service, create } = setup()
    const a = await create()
    const b = await create()
    const cp = await service.checkpoint({ workerId: a.workerId })
    const err = await refusal(
      service.restoreCheckpoint({ workerId: b.workerId, checkpointId: cp.checkpointId }),
    )
    expect(err.code).toBe('checkpoint_not_found')
  })

  it('restore while a command runs is a conflict', async () => {
    const { service, create, runtime } = setup()
    const { workerId } = await create()
    const cp = await service.checkpoint({ workerId })
    let release!: () => void
    runtime.onExec = async () => {
      await new Promise<void>((r) => (release = r))
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }
    }
    const running = service.sendCommand({ workerId, shell: 'sleep 1', timeoutMs: 1000 })
    await expect.poll(() => typeof release).toBe('function')
    const err = await refusal(
      service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId }),
    )
    expect(err.code).toBe('worker_busy')
    release()
    await running
  })

  it('a deleted worker takes its checkpoints along', async () => {
    const { service, create, runtime } = setup()
    const { workerId } = await create()
    await service.checkpoint({ workerId })
    await service.checkpoint({ workerId })
    expect(runtime.committed.size).toBe(2)
    await service.delete({ workerId })
    expect(runtime.committed.size).toBe(0)
  })

  it('a checkpoint forks run from stays until they are gone, then is swept', async () => {
    const { service, create, runtime } = setup()
    const { workerId } = await create()
    const fork = await service.fork({ workerId, count: 1 })
    await service.delete({ workerId })
    expect(runtime.committed.size).toBe(1)
    await service.delete({ workerId: fork.workers[0]!.workerId })
    expect(runtime.committed.size).toBe(0)
  })

  it('after a restart, checkpoints are listed again and orphans are swept', async () => {
    const runtime = new MemoryRuntime()
    const first = setup({ runtime })
    const kept = await first.create()
    const orphaned = await first.create()
    const cp = await first.service.checkpoint({ workerId: kept.workerId })
    await first.service.checkpoint({ workerId: orphaned.workerId })
    // The worker goes while the service is down: its checkpoint is left behind.
    await runtime.remove(await first.containerOf(orphaned.workerId))

    const second = setup({ runtime })
    expect(await second.service.checkpoints.sweep()).toEqual({ removed: 1, inUse: 0 })
    const listed = await second.service.listCheckpoints({ workerId: kept.workerId })
    expect(listed.checkpoints.map((c) => c.checkpointId)).toEqual([cp.checkpointId])
  })
})

describe('forks', () => {
  it('makes count workers with the files of the source, each independent', async () => {
    const { service, create, write, read } = setup()
    const { workerId } = await create({ labels: { team: 'a' } })
    await write(workerId, 'shared')
    const { workers, checkpointId } = await service.fork({ workerId, count: 2 })
    expect(workers).toHaveLength(2)
    expect(checkpointId).toMatch(/^c-/)
    const [a, b] = workers.map((w) => w.workerId)
    expect(new Set([a, b, workerId]).size).toBe(3)
    expect(await read(a!)).toBe('shared')
    expect(await read(b!)).toBe('shared')
    await write(a!, 'changed')
    expect(await read(b!)).toBe('shared')
    expect(await read(workerId)).toBe('shared')
    const status = await service.status({ workerId: a! })
    expect(status.labels).toEqual({ team: 'a' })
    expect(status.parentId).toBeUndefined()
  })

  it("keeps the config's env across a restart: a fork of a worker with its own key keeps it", async () => {
    const runtime = new MemoryRuntime()
    const first = gatewayService({ runtime })
    const { workerId } = await first.create({ agent: 'modeled', env: { K1: 'users-own-key' } })
    const second = gatewayService({ runtime })
    const { workers } = await second.service.fork({ workerId, count: 1 })
    const env = (await second.specOf(workers[0]!.workerId)).env
    // Not brokered: the gateway puts no credential in a model key variable of its own.
    expect(env.K1).toBe('users-own-key')
    expect(env.K2).toBeUndefined()
  })

  it("a fork of a pool worker is no pool container, and gets the config's env, not the token", async () => {
    const svc = gatewayService({ instance: 'a' })
    const pools = new WarmPools(svc.service, [
      { key: 'shell', agent: 'shell', capabilities: [], size: 1 },
    ])
    pools.start()
    await vi.waitFor(() => expect(pools.sizes().shell).toBe(1))
    const { workerId } = await svc.create({ env: { GREETING: 'hi' } })
    pools.close()
    // A pool worker's token is in its command env (it got it at hand-out).
    expect((await svc.service.get(workerId)).env.ORCHESTRATOR_TOKEN).toBeTruthy()
    const { workers } = await svc.service.fork({ workerId, count: 1 })
    const fork = await svc.service.get(workers[0]!.workerId)
    expect(fork.pool).toBeUndefined()
    expect(fork.env).toEqual({ GREETING: 'hi' })
    const info = (await svc.runtime.inspect(fork.containerId))!
    expect(info.labels[LABELS.pool]).toBe('')
    expect((await svc.service.list({})).workers.map((w) => w.workerId)).toContain(fork.workerId)
  })

  it('forks from a named checkpoint', async () => {
    const { service, create, write, read } = setup()
    const { workerId } = await create()
    await write(workerId, 'then')
    const cp = await service.checkpoint({ workerId })
    await write(workerId, 'now')
    const { workers } = await service.fork({ workerId, count: 1, checkpoint: cp.checkpointId })
    expect(await read(workers[0]!.workerId)).toBe('then')
  })

  it("never carries the source's credential, token or state; each fork has its own", async () => {
    const svc = gatewayService()
    const { service, create, runtime, credentialOf, specOf, filesOf } = svc
    const { workerId } = await create({ agent: 'modeled' })
    const parentKey = await credentialOf(workerId)
    const parentToken = (await specOf(workerId)).env.ORCHESTRATOR_TOKEN!
    expect(JSON.stringify((await specOf(workerId)).env)).toContain(parentKey)
    // As after an `update`: the token file holds the parent's token.
    await runtime.putFile(await svc.containerOf(workerId), TOKEN_FILE, Buffer.from(parentToken))

    const { workers } = await service.fork({ workerId, count: 2 })

    const image = [...runtime.committed.values()][0]!
    expect(JSON.stringify(image.env)).not.toContain(parentKey)
    expect(JSON.stringify(image.env)).not.toContain(parentToken)
    expect(image.env.ORCHESTRATOR_TOKEN).toBe('')
    for (const { workerId: forkId } of workers) {
      const env = JSON.stringify((await specOf(forkId)).env)
      expect(env).not.toContain(parentKey)
      expect(env).not.toContain(parentToken)
      expect(env).toContain(await credentialOf(forkId))
      const files = Object.fromEntries(await filesOf(forkId))
      expect(JSON.stringify(files)).not.toContain(parentKey)
      expect(JSON.stringify(files)).not.toContain(parentToken)
      expect(files[TOKEN_FILE]).toBe((await specOf(forkId)).env.ORCHESTRATOR_TOKEN)
      expect(files['/home/worker/.modeled/config.json']).toContain(await credentialOf(forkId))
      // Its state file is signed for it: a restarted service trusts it as this worker.
      const info = (await runtime.inspect(await svc.containerOf(forkId)))!
      expect((await service.restore(info))?.workerId).toBe(forkId)
      expect(info.labels[LABELS.workerId]).toBe(forkId)
      expect(info.labels[LABELS.forkedFrom]).toBe(workerId)
    }
  })

  it('counts against MAX_WORKERS, all or nothing', async () => {
    const { service, create, runtime } = setup({ policy: { ...DEFAULT_POLICY, maxWorkers: 3 } })
    const { workerId } = await create()
    const err = await refusal(service.fork({ workerId, count: 3 }))
    expect(err.code).toBe('worker_limit')
    expect(runtime.containers.size).toBe(1)
    expect((await service.fork({ workerId, count: 2 })).workers).toHaveLength(2)
  })

  it('undoes the forks already made when one fails', async () => {
    const { service, create, runtime } = setup()
    const { workerId } = await create()
    const run = runtime.run.bind(runtime)
    let runs = 0
    runtime.run = async (spec) => {
      if (++runs === 2) throw new Error('engine refused')
      return run(spec)
    }
    await expect(service.fork({ workerId, count: 3 })).rejects.toThrow('engine refused')
    expect([...runtime.containers.values()].map((c) => c.labels[LABELS.workerId])).toEqual([
      workerId,
    ])
    expect((await service.list({})).workers).toHaveLength(1)
  })

  it("a worker's forks are its sub-workers, under its quotas", async () => {
    const { service, create } = setup()
    const parent = await create({ maxChildren: 2, allowedTools: ['spawn', 'checkpoint'] })
    const { workers } = await service.fork(
      { workerId: parent.workerId, count: 2 },
      { caller: parent.workerId },
    )
    for (const w of workers) expect(w.parentId).toBe(parent.workerId)
    const err = await refusal(
      service.fork({ workerId: parent.workerId, count: 1 }, { caller: parent.workerId }),
    )
    expect(err.code).toBe('quota_exceeded')
  })
})

describe('per-turn checkpoints', () => {
  it('takes one after each prompt and keeps the last `keep` of them', async () => {
    const { service, create } = setup()
    const { workerId } = await create({ checkpoint: { every: 'turn', keep: 2 } })
    const manual = await service.checkpoint({ workerId })
    for (const n of [1, 2, 3])
      await service.sendCommand({ workerId, prompt: `echo ${n}`, timeoutMs: 1000 })
    // A shell command is not a turn.
    await service.sendCommand({ workerId, shell: 'true', timeoutMs: 1000 })
    const { checkpoints } = await service.listCheckpoints({ workerId })
    expect(checkpoints.map((c) => [c.auto, c.turns])).toEqual([
      [false, 0],
      [true, 2],
      [true, 3],
    ])
    expect(checkpoints[0]!.checkpointId).toBe(manual.checkpointId)
  })

  it('a fork counts its turns on from the checkpoint', async () => {
    const { service, create } = setup()
    const { workerId } = await create()
    await service.sendCommand({ workerId, prompt: 'echo 1', timeoutMs: 1000 })
    const { workers, turns } = await service.fork({ workerId, count: 1 })
    expect(turns).toBe(1)
    const forkId = workers[0]!.workerId
    await service.sendCommand({ workerId: forkId, prompt: 'echo 2', timeoutMs: 1000 })
    expect((await service.checkpoint({ workerId: forkId })).turns).toBe(2)
  })

  it("a fork's transcript starts as the source's did at the checkpoint", async () => {
    const { service, create } = setup()
    const { workerId } = await create()
    await service.sendCommand({ workerId, prompt: 'echo 1', timeoutMs: 1000 })
    const { checkpointId } = await service.checkpoint({ workerId })
    await service.sendCommand({ workerId, prompt: 'echo 2', timeoutMs: 1000 })
    const { workers } = await service.fork({ workerId, count: 1, checkpoint: checkpointId })
    const forkId = workers[0]!.workerId
    await service.sendCommand({ workerId: forkId, prompt: 'echo 3', timeoutMs: 1000 })
    const { turns } = await service.transcript({ workerId: forkId, limit: 100 })
    expect(turns.map((t) => [t.n, t.prompt, t.from])).toEqual([
      [1, 'echo 1', workerId],
      [2, 'echo 3', undefined],
    ])
  })

  it('reads per-turn and the object form, and names what is wrong', () => {
    const parse = (checkpoint: unknown) =>
      workerConfigSchema.safeParse({ agent: 'shell', checkpoint })
    expect(parse('per-turn').data?.checkpoint).toEqual({ every: 'turn', keep: 5 })
    expect(parse({ every: 'turn' }).data?.checkpoint).toEqual({ every: 'turn', keep: 5 })
    expect(parse({ every: 'turn', keep: 0 }).error?.message).toContain('keep at least 1')
    expect(parse({ every: 'turn', keep: 51 }).error?.message).toContain('keep at most 50')
    expect(parse('per-prompt').success).toBe(false)
    expect(parse({ every: 'turn', keep: 2, extra: 1 }).success).toBe(false)
  })
})
