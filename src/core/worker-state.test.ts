import { describe, expect, it, vi } from 'vitest'
import { MemoryRuntime, StateKeepingMemoryRuntime } from '../../test/support/memory-runtime.ts'
import { workerConfigSchema } from './config.ts'
import { noopLogger } from './logger.ts'
import { defineAgent } from './plugin/contract.ts'
import { PluginRegistry } from './plugin/registry.ts'
import { recoverWorkers } from './recovery.ts'
import { WorkerService } from './service.ts'
import { STATE_FILE } from './worker-state.ts'
import { NotFoundError } from './errors.ts'
import { LABELS } from './labels.ts'

const shell = defineAgent({
  apiVersion: 'v1',
  name: 'shell',
  version: '1.0.0',
  description: 'shell',
  prompt: (r) => ({ argv: ['/bin/sh', '-c', r.prompt] }),
  parse: (r) => ({ text: r.stdout, raw: null }),
})
const registry = PluginRegistry.fromModules([{ name: 'shell', module: { default: shell } }])
const SECRET = 'state-key-0123456789abcdef0123456789'

/** A memory runtime whose containers answer `test -e PATH` from its files. */
const memory = () => {
  const runtime = new MemoryRuntime()
  runtime.onExec = async (id, req) => {
    const [cmd, flag, path] = req.argv
    const exitCode =
      cmd === 'test' && flag === '-e' ? (runtime.files.has(`${id}:${path}`) ? 0 : 1) : 0
    return { exitCode, stdout: '', stderr: '', timedOut: false, durationMs: 1 }
  }
  return runtime
}

const service = (runtime: MemoryRuntime, secret = SECRET) =>
  new WorkerService({
    runtime,
    plugins: () => registry,
    baseImage: 'base',
    hostEnv: {},
    secret,
    instance: 'a',
  })

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A worker made by one service, and a second service over the same containers (a restart). */
const restartWith = async (
  tamper: (runtime: MemoryRuntime, containerId: string, workerId: string) => void,
  secret = SECRET,
  // A file written after the start: the create ends with the signed state file.
  config: object = { agent: 'shell', ttlSeconds: 600, files: { 'notes.txt': 'hi' } },
) => {
  const runtime = memory()
  const first = service(runtime)
  const { workerId } = await first.create({ config: workerConfigSchema.parse(config) })
  const containerId = (await first.get(workerId)).containerId
  tamper(runtime, containerId, workerId)
  const second = service(runtime, secret)
  const report = await recoverWorkers(second, { instance: 'a', logger: noopLogger })
  return { runtime, second, report, workerId, containerId }
}

const stateOf = (runtime: MemoryRuntime, containerId: string) =>
  JSON.parse(dec.decode(runtime.files.get(`${containerId}:${STATE_FILE}`)))

describe('the state a worker carries is trusted only when the service signed it', () => {
  it('restores a worker whose state is untouched, with its deadlines', async () => {
    const { report, second, workerId } = await restartWith(() => {})
    expect(report.recovered).toEqual([workerId])
    expect((await second.status({ workerId })).ttlSeconds).toBe(600)
  })

  it('refuses an unsigned file that grants a longer life and more tools, and removes the container', async () => {
    const { report, second, runtime, workerId, containerId } = await restartWith((runtime, id) => {
      const forged = {
        ...JSON.parse(stateOf(runtime, id).state),
        ttlSeconds: 2_592_000,
        allowedTools: ['spawn', 'delete'],
      }
      runtime.files.set(`${id}:${STATE_FILE}`, enc.encode(JSON.stringify(forged)))
    })
    expect(report.recovered).toEqual([])
    expect(report.broken.map((b) => b.containerId)).toEqual([containerId])
    expect(await runtime.inspect(containerId)).toBeUndefined()
    await expect(second.status({ workerId })).rejects.toMatchObject({ kind: 'not_found' })
  })

  it('refuses a signed envelope whose state was changed, or that was signed for another worker', async () => {
    const edited = await restartWith((runtime, id) => {
      const envelope = stateOf(runtime, id)
      envelope.state = envelope.state.replace('"ttlSeconds":600', '"ttlSeconds":2592000')
      runtime.files.set(`${id}:${STATE_FILE}`, enc.encode(JSON.stringify(envelope)))
    })
    expect(edited.report.broken).toHaveLength(1)
    const moved = await restartWith((runtime, id) => {
      const envelope = { ...stateOf(runtime, id), workerId: 'w-0000000000000000' }
      runtime.files.set(`${id}:${STATE_FILE}`, enc.encode(JSON.stringify(envelope)))
    })
    expect(moved.report.broken).toHaveLength(1)
  })

  it('refuses a file signed with another key (another spawner) and one with an invalid time', async () => {
    const other = await restartWith(() => {}, 'another-key-0123456789abcdef012345')
    expect(other.report.broken).toHaveLength(1)
    // Even signed: an invalid createdAt would make a worker immortal and `list` fail.
    const runtime = new MemoryRuntime()
    const first = service(runtime)
    const { workerId } = await first.create({
      config: workerConfigSchema.parse({ agent: 'shell' }),
    })
    const record = await first.get(workerId)
    record.createdAt = new Date(Number.NaN)
    await expect(first.update({ workerId, idleSeconds: 5 })).rejects.toThrow()
    const second = service(runtime)
    expect((await second.list({})).workers.map((w) => w.workerId)).toEqual([workerId])
  })

  it('treats a container without a state file as a create that never finished', async () => {
    const { report, runtime, containerId } = await restartWith((runtime, id) =>
      runtime.files.delete(`${id}:${STATE_FILE}`),
    )
    expect(report.broken).toEqual([
      { containerId, reason: expect.stringContaining('never finished') },
    ])
    expect(await runtime.inspect(containerId)).toBeUndefined()
  })

  it('restores a worker whose create wrote nothing after the start from its labels alone', async () => {
    const config = {
      agent: 'shell',
      ttlSeconds: 600,
      idleSeconds: 30,
      allowedTools: ['spawn'],
      spawnablePlugins: ['shell'],
      resources: { memoryMb: 512, cpus: 0.5, pids: 64 },
      network: 'open',
    }
    const { report, second, runtime, workerId, containerId } = await restartWith(
      () => {},
      SECRET,
      config,
    )
    expect(runtime.files.has(`${containerId}:${STATE_FILE}`)).toBe(false)
    expect(report.recovered).toEqual([workerId])
    expect(await second.status({ workerId })).toMatchObject({ ttlSeconds: 600, idleSeconds: 30 })
    // What sub-worker rules compare against comes back too: a child is no wider than before.
    expect(await second.get(workerId)).toMatchObject({
      allowedTools: ['spawn'],
      spawnablePlugins: ['shell'],
      resources: { memoryMb: 512, cpus: 0.5, pids: 64 },
      network: 'open',
    })
  })

  it('needs the signed file once a label-only worker changed, and without the label', async () => {
    // After an update the file holds the state: tampering with it is refused as for any worker.
    const runtime = memory()
    const first = service(runtime)
    const { workerId } = await first.create({
      config: workerConfigSchema.parse({ agent: 'shell', ttlSeconds: 600 }),
    })
    await first.update({ workerId, ttlSeconds: 60 })
    const containerId = (await first.get(workerId)).containerId
    const envelope = stateOf(runtime, containerId)
    envelope.state = envelope.state.replace('"ttlSeconds":60', '"ttlSeconds":2592000')
    runtime.files.set(`${containerId}:${STATE_FILE}`, enc.encode(JSON.stringify(envelope)))
    const report = await recoverWorkers(service(runtime), { instance: 'a', logger: noopLogger })
    expect(report.broken.map((b) => b.containerId)).toEqual([containerId])
    // The labels stand for the state only where the service said so at create.
    const unlabelled = await restartWith(
      (runtime, id) => {
        runtime.files.delete(`${id}:${STATE_FILE}`)
        delete runtime.containers.get(id)!.labels[LABELS.stateInLabels]
      },
      SECRET,
      { agent: 'shell' },
    )
    expect(unlabelled.report.broken).toEqual([
      { containerId: unlabelled.containerId, reason: expect.stringContaining('never finished') },
    ])
  })

  it('leaves a worker alone when the engine cannot read a state file that is there', async () => {
    const { report, runtime, containerId, second, workerId } = await restartWith((runtime) => {
      const getFile = runtime.getFile.bind(runtime)
      // What Docker's archive API answers when a bind mount's host directory went away.
      runtime.getFile = async (id: string, path: string) => {
        if (path.startsWith('/etc/')) throw new NotFoundError(`no such file: ${path}`)
        return getFile(id, path)
      }
    })
    expect(report).toMatchObject({ recovered: [], broken: [], skipped: [{ containerId }] })
    expect(await runtime.inspect(containerId)).toBeDefined()
    await expect(second.status({ workerId })).rejects.toMatchObject({ kind: 'unavailable' })
  })

  it('keeps an update when a background activity write started before it lands after it', async () => {
    const runtime = memory()
    const put = runtime.putFile.bind(runtime)
    let hold: Promise<void> | undefined
    let release = () => {}
    let stateWrites = 0
    runtime.putFile = async (id: string, path: string, content: Uint8Array) => {
      if (path === STATE_FILE) {
        stateWrites++
        const held = hold
        hold = undefined
        if (held) await held
      }
      return put(id, path, content)
    }
    let clock = Date.parse('2026-06-01T00:00:00Z')
    const svc = new WorkerService({
      runtime,
      plugins: () => registry,
      baseImage: 'base',
      hostEnv: {},
      secret: SECRET,
      persistActivityMs: 1,
      now: () => new Date((clock += 1000)),
    })
    const { workerId } = await svc.create({
      config: workerConfigSchema.parse({ agent: 'shell', ttlSeconds: 600 }),
    })
    const { containerId } = await svc.get(workerId)
    hold = new Promise<void>((r) => (release = r))
    const before = stateWrites
    // The command's activity write (TTL 600) is held; the update (TTL 7200) is asked for after it.
    await svc.sendCommand({ workerId, shell: 'true', timeoutMs: 60_000 })
    const updating = svc.update({ workerId, ttlSeconds: 7200 })
    // The activity write is signed off the main thread: wait until it is under way (held).
    await vi.waitFor(() => expect(stateWrites - before).toBe(1))
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
    // The update waits for the write before it instead of racing it.
    expect(stateWrites - before).toBe(1)
    release()
    await updating
    const kept = JSON.parse(
      JSON.parse(new TextDecoder().decode(runtime.files.get(`${containerId}:${STATE_FILE}`))).state,
    )
    expect(kept.ttlSeconds).toBe(7200)
  })
})

describe('a runtime that keeps the state on its host', () => {
  const files = { agent: 'shell', ttlSeconds: 600, files: { 'notes.txt': 'hi' } }
  const kept = (runtime: StateKeepingMemoryRuntime, containerId: string) =>
    JSON.parse(dec.decode(runtime.states.get(containerId)))
  const put = (runtime: StateKeepingMemoryRuntime, containerId: string, envelope: object) =>
    runtime.states.set(containerId, enc.encode(JSON.stringify(envelope)))

  /** A worker made by one service on `runtime`, then `between`, then a restart over it. */
  const restart = async (
    runtime: StateKeepingMemoryRuntime,
    between: (first: WorkerService, containerId: string, workerId: string) => Promise<void>,
    config: object = files,
  ) => {
    const first = service(runtime)
    const { workerId } = await first.create({ config: workerConfigSchema.parse(config) })
    const { containerId } = await first.get(workerId)
    await between(first, containerId, workerId)
    const second = service(runtime)
    const report = await recoverWorkers(second, { instance: 'a', logger: noopLogger })
    return { second, report, workerId, containerId }
  }

  it('writes it there and not into the container, and a restart reads it back', async () => {
    const runtime = new StateKeepingMemoryRuntime()
    const { second, report, workerId, containerId } = await restart(
      runtime,
      async (first, _, id) => {
        await first.update({ workerId: id, ttlSeconds: 900 })
      },
    )
    expect(runtime.files.has(`${containerId}:${STATE_FILE}`)).toBe(false)
    expect(kept(runtime, containerId).workerId).toBe(workerId)
    expect(report.recovered).toEqual([workerId])
    expect((await second.status({ workerId })).ttlSeconds).toBe(900)
    // It goes with the container.
    await second.delete({ workerId })
    expect(runtime.states.has(containerId)).toBe(false)
  })

  it('prefers it to an older state file in the container', async () => {
    const runtime = new StateKeepingMemoryRuntime()
    const { second, report, workerId } = await restart(runtime, async (first, cid, id) => {
      const older = runtime.states.get(cid) ?? runtime.files.get(`${cid}:${STATE_FILE}`)!
      await first.update({ workerId: id, ttlSeconds: 60 })
      // A signed file of this worker in the container, as a service without the capability
      // wrote it before: the host's, written after it, is the worker's state.
      runtime.files.set(`${cid}:${STATE_FILE}`, older)
    })
    expect(report.recovered).toEqual([workerId])
    expect((await second.status({ workerId })).ttlSeconds).toBe(60)
  })

  it('reads the file in the container when the host has none', async () => {
    const runtime = new StateKeepingMemoryRuntime()
    const { second, report, workerId } = await restart(runtime, async (first, cid, id) => {
      await first.update({ workerId: id, ttlSeconds: 1200 })
      // Where a service without the capability keeps it (a worker made before, or elsewhere).
      runtime.files.set(`${cid}:${STATE_FILE}`, runtime.states.get(cid)!)
      runtime.states.delete(cid)
    })
    expect(runtime.stateReads).toBeGreaterThan(0)
    expect(report.recovered).toEqual([workerId])
    expect((await second.status({ workerId })).ttlSeconds).toBe(1200)
  })

  it('refuses a host state that was changed, even with a good file in the container', async () => {
    const runtime = new StateKeepingMemoryRuntime()
    const edited = await restart(runtime, async (_, cid) => {
      runtime.files.set(`${cid}:${STATE_FILE}`, runtime.states.get(cid)!)
      const envelope = kept(runtime, cid)
      envelope.state = envelope.state.replace('"ttlSeconds":600', '"ttlSeconds":2592000')
      put(runtime, cid, envelope)
    })
    expect(edited.report.broken).toEqual([
      { containerId: edited.containerId, reason: expect.stringContaining('signature') },
    ])
    expect(await runtime.inspect(edited.containerId)).toBeUndefined()
    // Unsigned, or signed for another worker: refused as in the container.
    const unsigned = await restart(runtime, async (_, cid) => {
      put(runtime, cid, { ...JSON.parse(kept(runtime, cid).state), ttlSeconds: 2_592_000 })
    })
    expect(unsigned.report.broken.map((b) => b.containerId)).toEqual([unsigned.containerId])
    const moved = await restart(runtime, async (_, cid) => {
      put(runtime, cid, { ...kept(runtime, cid), workerId: 'w-0000000000000000' })
    })
    expect(moved.report.broken.map((b) => b.containerId)).toEqual([moved.containerId])
  })

  it('restores a worker whose create wrote nothing from its labels, as without it', async () => {
    const runtime = new StateKeepingMemoryRuntime()
    const { report, workerId, containerId } = await restart(runtime, async () => {}, {
      agent: 'shell',
      ttlSeconds: 600,
    })
    expect(runtime.states.has(containerId)).toBe(false)
    expect(report.recovered).toEqual([workerId])
  })

  it('gives a fork and a restore their own state, none of it in the checkpoint', async () => {
    const runtime = new StateKeepingMemoryRuntime()
    let fork = ''
    let restored = ''
    const { second, report, workerId } = await restart(runtime, async (first, cid, id) => {
      const cp = await first.checkpoint({ workerId: id })
      expect([...runtime.committed.values()][0]!.files.has(STATE_FILE)).toBe(false)
      fork = (await first.fork({ workerId: id, checkpoint: cp.checkpointId, count: 1 })).workers[0]!
        .workerId
      await first.update({ workerId: id, ttlSeconds: 1500 })
      await first.restoreCheckpoint({ workerId: id, checkpointId: cp.checkpointId })
      restored = (await first.get(id)).containerId
      expect(restored).not.toBe(cid)
      expect(runtime.states.has(cid)).toBe(false)
    })
    expect(kept(runtime, restored).workerId).toBe(workerId)
    expect(report.recovered.sort()).toEqual([workerId, fork].sort())
    // The restore kept the worker's own state (its TTL set after the checkpoint).
    expect((await second.status({ workerId })).ttlSeconds).toBe(1500)
    const forkContainer = (await second.get(fork)).containerId
    expect(kept(runtime, forkContainer).workerId).toBe(fork)
  })
})
