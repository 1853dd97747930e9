import { describe, expect, it } from 'vitest'
import { memoryService, refusal } from '../../test/support/memory-service.ts'
import { MAX_CHECKPOINTS } from './checkpoint-images.ts'
import { LABELS } from './labels.ts'
import { noopLogger } from './logger.ts'
import { recoverWorkers } from './recovery.ts'

/** A promise and the function that settles it. */
const gate = () => {
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  return { opened, open }
}

const ok = { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }

describe('restore racing other commands', () => {
  it('a worker deleted during its restore leaves no container behind', async () => {
    const { service, create, runtime, containerOf } = memoryService()
    const { workerId } = await create({ allowedTools: ['checkpoint', 'delete'] })
    const cp = await service.checkpoint({ workerId })
    const old = await containerOf(workerId)
    // The restore's new container starts only once the delete has removed the old one.
    const oldRemoved = gate()
    const remove = runtime.remove.bind(runtime)
    runtime.remove = async (id) => {
      await remove(id)
      if (id === old) oldRemoved.open()
    }
    const run = runtime.run.bind(runtime)
    runtime.run = async (spec) => {
      await oldRemoved.opened
      return run(spec)
    }
    const restoring = service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId })
    await expect.poll(async () => !!(await service.get(workerId)).pausing).toBe(true)
    const deleting = service.delete({ workerId })

    await Promise.allSettled([restoring, deleting])

    await expect(deleting).resolves.toMatchObject({ workerId, deleted: true })
    const left = [...runtime.containers.values()].filter(
      (c) => c.labels[LABELS.workerId] === workerId,
    )
    expect(left).toEqual([])
  })

  it('a command that starts while the restore looks up its checkpoint makes it busy', async () => {
    const { service, create, runtime } = memoryService()
    const { workerId } = await create()
    const cp = await service.checkpoint({ workerId })
    const lookedUp = gate()
    const found = gate()
    const checkpointImage = runtime.checkpointImage.bind(runtime)
    runtime.checkpointImage = async (tag) => {
      lookedUp.open()
      await found.opened
      return checkpointImage(tag)
    }
    const execStarted = gate()
    const execDone = gate()
    runtime.onExec = async () => {
      execStarted.open()
      await execDone.opened
      return ok
    }
    const restoring = service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId })
    await lookedUp.opened
    const command = service.sendCommand({ workerId, shell: 'sleep 5', timeoutMs: 10_000 })
    await execStarted.opened
    found.open()

    // The command runs in the container a restore would remove: the restore must wait or refuse.
    const err = await refusal(restoring)
    expect(err.code).toBe('worker_busy')
    execDone.open()
    await command
  })
})

describe('pause racing a restore', () => {
  it('is refused while the worker is being restored', async () => {
    const { service, create, runtime } = memoryService()
    const { workerId } = await create()
    const cp = await service.checkpoint({ workerId })
    const started = gate()
    const run = runtime.run.bind(runtime)
    runtime.run = async (spec) => {
      await started.opened
      return run(spec)
    }
    const restoring = service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId })
    await expect.poll(async () => !!(await service.get(workerId)).pausing).toBe(true)

    const err = await refusal(service.pause({ workerId }))
    started.open()
    await restoring

    expect(err.code).toBe('worker_busy')
    expect((await service.status({ workerId })).state).toBe('running')
  })
})

describe('checkpoint quota', () => {
  it('a worker keeps at most MAX_CHECKPOINTS checkpoints it took itself', async () => {
    const { service, create, runtime } = memoryService()
    const { workerId } = await create({ allowedTools: ['checkpoint'] })
    for (let i = 0; i < MAX_CHECKPOINTS; i++)
      await service.checkpoint({ workerId }, { caller: workerId })
    const err = await refusal(service.checkpoint({ workerId }, { caller: workerId }))
    expect(err.code).toBe('quota_exceeded')
    // A fork that takes one is refused the same way.
    const forked = await refusal(service.fork({ workerId, count: 1 }))
    expect(forked.code).toBe('quota_exceeded')
    expect(runtime.committed.size).toBe(MAX_CHECKPOINTS)
    // Deleting one makes room again.
    const [first] = (await service.listCheckpoints({ workerId })).checkpoints
    await service.deleteCheckpoint({ workerId, checkpointId: first!.checkpointId })
    await service.checkpoint({ workerId }, { caller: workerId })
  })
})

describe('a restore cut short by a restart', () => {
  it('leaves the worker in its old container, and none other running', async () => {
    const first = memoryService({ instance: 'a' })
    const { workerId } = await first.create()
    const cp = await first.service.checkpoint({ workerId })
    const old = await first.containerOf(workerId)
    // The service stops for good before it removes the old container.
    const stopped = gate()
    const remove = first.runtime.remove.bind(first.runtime)
    first.runtime.remove = async (id) => {
      if (id !== old) return remove(id)
      stopped.open()
      await new Promise<never>(() => {})
    }
    void first.service.restoreCheckpoint({ workerId, checkpointId: cp.checkpointId })
    await stopped.opened
    first.runtime.remove = remove

    const second = memoryService({ instance: 'a', runtime: first.runtime })
    const report = await recoverWorkers(second.service, { instance: 'a', logger: noopLogger })

    expect(report.recovered).toEqual([workerId])
    const left = [...first.runtime.containers.values()].filter(
      (c) => c.labels[LABELS.workerId] === workerId,
    )
    expect(left.map((c) => c.id)).toEqual([old])
    expect(await second.containerOf(workerId)).toBe(old)
  })
})
