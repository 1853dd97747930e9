import { describe, expect, it } from 'vitest'
import { memoryService, refusal, registryOf } from '../../test/support/memory-service.ts'
import type { MemoryRuntime } from '../../test/support/memory-runtime.ts'
import { workerConfigSchema, type WorkerConfigInput } from './config.ts'
import { Dispatcher } from './dispatcher.ts'
import { defineAgent } from './plugin/contract.ts'
import { MemorySessionStore } from './transcripts-memory.ts'
import { bytesToBase64 } from './bytes.ts'

/**
 * An agent whose "CLI" answers `sum:<n>` lines as JSON: its updates are the text, its session id
 * the one it was given or `s-1`, and its session files live in ~/.sums.
 */
const sums = defineAgent({
  apiVersion: 'v1',
  name: 'sums',
  version: '1.0.0',
  description: 'sums',
  prompt: (r) => ({ argv: ['sums', r.prompt, r.sessionId ?? 's-1'] }),
  parse: (r) => {
    const { text, session } = JSON.parse(r.stdout)
    if (text === 'fail') throw new Error('the CLI failed')
    return { text, sessionId: session, raw: null }
  },
  updates: (line) =>
    typeof line.text === 'string'
      ? [
          { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: line.text } },
          { sessionUpdate: 'turn_end', stopReason: 'end_turn' },
        ]
      : [],
  sessions: { paths: ['~/.sums'] },
})

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b)

/**
 * The CLI and the in-worker tar, on the memory runtime: packing writes the worker's "session
 * files" (one text per container) as the archive; unpacking records what it unpacked.
 */
const fakeCli = (runtime: MemoryRuntime) => {
  const homes = new Map<string, string>()
  const unpacked: { id: string; archive: string }[] = []
  let packFails = false
  let tooLarge = false
  runtime.onExec = async (id, req) => {
    const done = (stdout: string, exitCode = 0) => {
      req.onOutput?.('stdout', stdout)
      return {
        exitCode,
        stdout,
        stderr: exitCode ? 'tar: boom' : '',
        timedOut: false,
        durationMs: 1,
      }
    }
    const [cmd, a, b] = req.argv
    if (cmd === 'sums') {
      homes.set(id, `${homes.get(id) ?? ''}${a};`)
      return done(JSON.stringify({ text: a, session: b }) + '\n')
    }
    if (cmd === '/bin/bash' && b?.includes('tar -czf')) {
      if (packFails) return done('', 2)
      if (tooLarge) return { ...done('', 4), stderr: '70000000\n' }
      if (!homes.has(id)) return done('', 3)
      return { ...done(''), stdout: bytesToBase64(enc(`archive of ${homes.get(id)}`)) }
    }
    if (cmd === '/bin/sh' && b?.includes('tar -xzf')) {
      const archive = dec(runtime.files.get(`${id}:${req.argv[3]}`))
      unpacked.push({ id, archive })
      homes.set(id, archive.replace('archive of ', ''))
      return done('')
    }
    return done('')
  }
  return {
    unpacked,
    failPacking: () => (packFails = true),
    packTooLarge: () => (tooLarge = true),
  }
}

const setup = () => {
  const transcripts = new MemorySessionStore()
  const m = memoryService({ plugins: () => registryOf(sums), transcripts })
  const cli = fakeCli(m.runtime)
  const create = (config: Partial<WorkerConfigInput> = {}, parentId?: string) =>
    m.service.create(
      { config: workerConfigSchema.parse({ agent: 'sums', ...config }) },
      {},
      parentId ? { parentId } : undefined,
    )
  const prompt = (workerId: string, p: string, sessionId?: string) =>
    m.service.sendCommand({
      workerId,
      prompt: p,
      timeoutMs: 1000,
      ...(sessionId ? { sessionId } : {}),
    })
  return { ...m, ...cli, transcripts, create, prompt }
}

describe('transcripts', () => {
  it('keeps each prompt turn with its updates and session archive, after delete too', async () => {
    const { service, transcripts, create, prompt } = setup()
    const { workerId } = await create()
    expect((await service.transcript({ workerId, limit: 100 })).turns).toEqual([])
    expect((await prompt(workerId, '12')).reply?.text).toBe('12')
    expect((await prompt(workerId, '3', 's-1')).reply?.text).toBe('3')
    await service.delete({ workerId })

    const { turns } = await service.transcript({ workerId, limit: 100 })
    expect(turns.map((t) => [t.n, t.prompt, t.reply?.text, t.sessionId])).toEqual([
      [1, '12', '12', 's-1'],
      [2, '3', '3', 's-1'],
    ])
    expect(turns[0]!.updates.map((u) => u.sessionUpdate)).toEqual([
      'agent_message_chunk',
      'turn_end',
    ])
    expect(turns[1]!.session).toMatchObject({ saved: true })
    // The archive after the last turn of the session.
    expect(dec(await transcripts.loadSession(workerId, 's-1'))).toBe('archive of 12;3;')
    // In pages: `next` is where the following one starts.
    const page = await service.transcript({ workerId, limit: 1 })
    expect([page.turns.map((t) => t.n), page.next]).toEqual([[1], 1])
    const last = await service.transcript({ workerId, limit: 1, after: page.next })
    expect([last.turns.map((t) => t.n), last.next]).toEqual([[2], undefined])
    expect(
      await refusal(service.transcript({ workerId: 'w-0000000000000000', limit: 1 })),
    ).toMatchObject({
      code: 'worker_not_found',
    })
  })

  it('answers the prompt when its session cannot be saved, and says so in the turn', async () => {
    const { service, create, prompt, failPacking } = setup()
    const { workerId } = await create()
    failPacking()
    expect((await prompt(workerId, '5')).reply?.text).toBe('5')
    const [turn] = (await service.transcript({ workerId, limit: 100 })).turns
    expect(turn!.session).toMatchObject({ saved: false })
    expect(turn!.session!.error).toContain('tar: boom')
  })

  it('does not keep session files past the cap, and says so in the turn', async () => {
    const { service, transcripts, create, prompt, packTooLarge } = setup()
    const { workerId } = await create()
    packTooLarge()
    expect((await prompt(workerId, '5')).reply?.text).toBe('5')
    const [turn] = (await service.transcript({ workerId, limit: 100 })).turns
    expect(turn!.session).toMatchObject({ saved: false })
    expect(turn!.session!.error).toContain('pack to 70000000 bytes, over the cap')
    expect(await transcripts.loadSession(workerId, 's-1')).toBeUndefined()
  })

  it('keeps a failed turn with its error', async () => {
    const { service, create, prompt } = setup()
    const { workerId } = await create()
    expect(await refusal(prompt(workerId, 'fail'))).toMatchObject({ code: 'agent_error' })
    const [turn] = (await service.transcript({ workerId, limit: 100 })).turns
    expect(turn).toMatchObject({ prompt: 'fail', error: expect.stringContaining('the CLI failed') })
    expect(turn!.reply).toBeUndefined()
  })

  it('resumes a saved session in a new worker: files restored, transcript continued', async () => {
    const { service, runtime, create, prompt, unpacked } = setup()
    const { workerId: old } = await create()
    await prompt(old, '12')
    await service.delete({ workerId: old })
    const { workerId } = await create({ resume: { fromWorker: old, sessionId: 's-1' } })
    const containerId = (await service.get(workerId)).containerId
    expect(unpacked).toEqual([{ id: containerId, archive: 'archive of 12;' }])
    // The archive went in as the worker's user, and its scratch file is gone with the unpack.
    const puts = [...runtime.fileOptions].filter(([k]) => k.startsWith(containerId))
    expect(puts.map(([, opts]) => opts)).toEqual([{ mode: 0o600, roots: ['/tmp'] }])

    await prompt(workerId, '3', 's-1')
    const { turns } = await service.transcript({ workerId, limit: 100 })
    expect(turns.map((t) => [t.n, t.prompt, t.from])).toEqual([
      [1, '12', old],
      [2, '3', undefined],
    ])
  })

  it('refuses a resume it cannot honour, before anything is created', async () => {
    const { service, runtime, create, prompt } = setup()
    const { workerId: old } = await create()
    await prompt(old, '12')
    const before = runtime.containers.size
    const unknownWorker = await refusal(
      create({ resume: { fromWorker: 'w-0000000000000000', sessionId: 's-1' } }),
    )
    expect(unknownWorker).toMatchObject({ code: 'transcript_not_found' })
    expect(unknownWorker.message).toContain('resume.fromWorker')
    const unknownSession = await refusal(create({ resume: { fromWorker: old, sessionId: 's-9' } }))
    expect(unknownSession).toMatchObject({ code: 'session_not_found' })
    expect(unknownSession.message).toContain('resume.sessionId')
    const otherDir = await refusal(
      create({ workdir: '/elsewhere', resume: { fromWorker: old, sessionId: 's-1' } }),
    )
    expect(otherDir).toMatchObject({ code: 'resume_mismatch', details: [{ path: 'workdir' }] })
    expect(runtime.containers.size).toBe(before)
    expect(service.records().length).toBe(1)
  })

  it('refuses a resume with another agent', async () => {
    const transcripts = new MemorySessionStore()
    const { service } = memoryService({ transcripts })
    await transcripts.setOwner('w-00000000000000aa', {
      agent: 'sums',
      workdir: '/workspace',
      ancestors: [],
    })
    await transcripts.saveSession('w-00000000000000aa', 's-1', enc('x'))
    const e = await refusal(
      service.create({
        config: workerConfigSchema.parse({
          agent: 'shell',
          resume: { fromWorker: 'w-00000000000000aa', sessionId: 's-1' },
        }),
      }),
    )
    expect(e).toMatchObject({ code: 'resume_mismatch', details: [{ path: 'agent' }] })
  })

  it("lets a worker read and resume its own and its deleted sub-workers' sessions only", async () => {
    const { service, create, prompt } = setup()
    const parent = (await create({ maxChildren: 2, allowedTools: ['transcript', 'spawn'] }))
      .workerId
    const stranger = (await create({ allowedTools: ['transcript', 'spawn'] })).workerId
    const child = (await create({}, parent)).workerId
    await prompt(child, '7')
    await service.delete({ workerId: child })
    const dispatcher = new Dispatcher({ service })
    const as = (workerId: string) => ({
      kind: 'worker' as const,
      workerId,
      tools: ['transcript', 'spawn'],
    })
    const read = (by: string) =>
      dispatcher.execute(as(by), 'transcript', { workerId: child }).then((o) => {
        if (o.kind !== 'result') throw new Error(o.kind)
        return o.result as { turns: unknown[] }
      })
    expect((await read(parent)).turns).toHaveLength(1)
    expect(await refusal(read(stranger))).toMatchObject({ code: 'not_your_worker' })

    const resume = { agent: 'sums', resume: { fromWorker: child, sessionId: 's-1' } }
    expect(
      await refusal(dispatcher.execute(as(stranger), 'create', { config: resume })),
    ).toMatchObject({ code: 'not_your_worker' })
    const made = await dispatcher.execute(as(parent), 'create', { config: resume })
    expect(made.kind).toBe('result')
  })
})
