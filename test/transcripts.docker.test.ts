import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineAgent } from '../src/core/plugin/contract.ts'
import { MAX_SESSION_ARCHIVE_BYTES } from '../src/core/transcripts.ts'
import { api, registryWith, startHarness, type Harness } from './support/harness.ts'

/**
 * An agent whose "CLI" keeps its conversation in ~/.notes/<session>: a prompt appends itself
 * there and the reply is the whole conversation so far, so a resumed worker answers with the
 * turns it restored.
 */
const notes = defineAgent({
  apiVersion: 'v1',
  name: 'notes',
  version: '1.0.0',
  description: 'remembers its prompts in ~/.notes',
  prompt: (req) => ({
    argv: [
      '/bin/bash',
      '-c',
      'mkdir -p ~/.notes && printf "%s;" "$0" >> ~/.notes/"$1" && cat ~/.notes/"$1"',
      req.prompt,
      req.sessionId ?? 'chat-1',
    ],
  }),
  parse: (r) => ({ text: r.stdout, sessionId: 'chat-1', raw: null }),
  sessions: { paths: ['~/.notes', '~/.none*'] },
})

/**
 * Transcripts and resume with a real container, through this runtime (in-process Docker, or a
 * host agent with TEST_RUNTIME=remote): the session files are packed and unpacked inside the
 * workers as their user, and outlive the first one.
 */
describe('transcripts and resume, in real workers', () => {
  let h: Harness
  let http: ReturnType<typeof api>
  beforeAll(async () => {
    h = await startHarness({ registry: await registryWith(notes) })
    http = api(h.app)
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  const create = async (extra: Record<string, unknown> = {}) => {
    const res = await http.post('/v1/workers', { agent: 'notes', labels: h.runLabel, ...extra })
    expect(res.status, res.text).toBe(201)
    return res.json.workerId as string
  }
  const prompt = async (workerId: string, text: string) => {
    const res = await http.post(`/v1/workers/${workerId}/commands`, {
      prompt: text,
      sessionId: 'chat-1',
    })
    expect(res.status, res.text).toBe(200)
    return res.json.reply.text as string
  }
  const shell = async (workerId: string, line: string) =>
    (await http.post(`/v1/workers/${workerId}/commands`, { shell: line })).json.stdout as string

  it('keeps the turns after delete, and a new worker continues the session', async () => {
    const first = await create()
    expect(await prompt(first, 'one')).toBe('one;')
    expect(await prompt(first, 'two')).toBe('one;two;')
    expect((await http.del(`/v1/workers/${first}`)).status).toBe(200)

    const kept = await http.get(`/v1/workers/${first}/transcript`)
    expect(kept.status, kept.text).toBe(200)
    expect(kept.json.turns.map((t: any) => [t.n, t.prompt, t.reply.text, t.session.saved])).toEqual(
      [
        [1, 'one', 'one;', true],
        [2, 'two', 'one;two;', true],
      ],
    )

    const next = await create({ resume: { fromWorker: first, sessionId: 'chat-1' } })
    // Restored as the worker's own files, in its home.
    expect(await shell(next, 'stat -c "%u %n" ~/.notes/chat-1')).toBe(
      '1000 /home/worker/.notes/chat-1\n',
    )
    expect(await prompt(next, 'three')).toBe('one;two;three;')
    const continued = (await http.get(`/v1/workers/${next}/transcript`)).json
    expect(continued.turns.map((t: any) => [t.n, t.prompt, t.from])).toEqual([
      [1, 'one', first],
      [2, 'two', first],
      [3, 'three', undefined],
    ])
  })

  it('saves a link as a link: nothing it points to leaves the worker', async () => {
    const workerId = await create()
    await shell(workerId, 'ln -s /etc ~/.notes')
    await http.post(`/v1/workers/${workerId}/commands`, { prompt: 'x', sessionId: 'chat-1' })
    const [turn] = (await http.get(`/v1/workers/${workerId}/transcript`)).json.turns
    // The link alone: /etc packed would be hundreds of KB.
    expect(turn.session).toMatchObject({ saved: true })
    expect(turn.session.bytes).toBeLessThan(1024)
    const next = await create({ resume: { fromWorker: workerId, sessionId: 'chat-1' } })
    expect(await shell(next, 'readlink ~/.notes')).toBe('/etc\n')
  })

  it("packs with the system's tar, not one the agent put on its PATH", async () => {
    const workerId = await create()
    await shell(
      workerId,
      'mkdir -p ~/.local/bin && printf "#!/bin/sh\\nexit 9\\n" > ~/.local/bin/tar && chmod +x ~/.local/bin/tar',
    )
    expect(await shell(workerId, 'command -v tar')).toBe('/home/worker/.local/bin/tar\n')
    expect(await prompt(workerId, 'safe')).toBe('safe;')
    const [turn] = (await http.get(`/v1/workers/${workerId}/transcript`)).json.turns
    expect(turn.session, JSON.stringify(turn.session)).toMatchObject({ saved: true })
  })

  it('answers the prompt but keeps no archive over the cap, and says so', async () => {
    const workerId = await create()
    const mib = Math.ceil(MAX_SESSION_ARCHIVE_BYTES / 1024 / 1024) + 4
    await shell(workerId, `mkdir -p ~/.notes && head -c ${mib}M /dev/urandom > ~/.notes/big`)
    expect(await prompt(workerId, 'big')).toBe('big;')
    const [turn] = (await http.get(`/v1/workers/${workerId}/transcript`)).json.turns
    expect(turn.session.saved).toBe(false)
    expect(turn.session.error).toContain('cap')
    const refused = await http.post('/v1/workers', {
      agent: 'notes',
      labels: h.runLabel,
      resume: { fromWorker: workerId, sessionId: 'chat-1' },
    })
    expect(refused.status, refused.text).toBe(404)
    expect(refused.json.error.code).toBe('session_not_found')
  }, 300_000)
})
