import { describe, expect, it } from 'vitest'
import { noopLogger } from '../logger.ts'
import type { SpawnedCommand, SpawnRequest, SpawningRuntime } from '../runtime.ts'
import { AcpProcess } from './agent-process.ts'

type Msg = { id?: number; method?: string; params?: Record<string, any>; result?: unknown }

/**
 * An ACP agent in memory: answers `initialize`, `session/*` and prompts ("say X" → chunk X),
 * asks for a permission when told to, and records what it was sent.
 */
const fakeAgent = (opts: { loadSession?: boolean } = {}) => {
  const seen: Msg[] = []
  let out: SpawnRequest['onOutput'] = () => {}
  let end!: (code: number) => void
  let n = 0
  const send = (m: object) => out('stdout', `${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`)
  const answers = new Map<number, (v: unknown) => void>()
  const handle = async (m: Msg) => {
    seen.push(m)
    if (m.method === undefined) return answers.get(m.id!)?.(m.result)
    const reply = (result: unknown) => send({ id: m.id, result })
    switch (m.method) {
      case 'initialize':
        return reply({ protocolVersion: 1, agentCapabilities: { loadSession: !!opts.loadSession } })
      case 'session/new':
        return reply({ sessionId: `s${++n}` })
      case 'session/load':
      case 'session/set_mode':
        return reply(null)
      case 'session/prompt': {
        const text: string = m.params!.prompt[0].text
        const sessionId = m.params!.sessionId
        if (text === 'ask') {
          const id = 1000 + n++
          const answered = new Promise((r) => answers.set(id, r))
          send({
            id,
            method: 'session/request_permission',
            params: { sessionId, options: [{ optionId: 'no', name: 'No', kind: 'reject_once' }] },
          })
          return reply({ stopReason: 'end_turn', answered: await answered })
        }
        send({
          method: 'session/update',
          params: {
            sessionId,
            update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text } },
          },
        })
        return reply({ stopReason: 'end_turn' })
      }
    }
  }
  const runtime: SpawningRuntime = {
    spawn: async (_id, req) => {
      out = req.onOutput
      const exited = new Promise<number>((r) => (end = r))
      let buffer = ''
      const cmd: SpawnedCommand = {
        write: (data) => {
          buffer += data
          for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl)
            buffer = buffer.slice(nl + 1)
            void handle(JSON.parse(line) as Msg)
          }
        },
        end: () => end(0),
        kill: async () => end(137),
        exited,
      }
      return cmd
    },
  }
  return { runtime, seen, exit: (code: number) => end(code) }
}

const start = (runtime: SpawningRuntime, more: { mode?: string } = {}) =>
  AcpProcess.start({
    runtime,
    containerId: 'c1',
    argv: ['agent', 'acp'],
    env: {},
    workdir: '/workspace',
    onRequest: async () => ({ outcome: { outcome: 'selected', optionId: 'no' } }),
    logger: noopLogger,
    ...more,
  })

describe('AcpProcess', () => {
  it("makes a session in the plugin's mode, keeps it live, and streams a prompt's updates", async () => {
    const agent = fakeAgent()
    const p = await start(agent.runtime, { mode: 'yolo' })
    const id = await p.session(undefined, '/workspace')
    expect(await p.session(id, '/workspace')).toBe(id)
    const updates: unknown[] = []
    const answer = await p.prompt(id, '12', (method, params) => updates.push([method, params]))
    expect(answer).toEqual({ stopReason: 'end_turn' })
    expect(updates).toEqual([
      [
        'session/update',
        {
          sessionId: 's1',
          update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: '12' } },
        },
      ],
    ])
    expect(agent.seen.map((m) => m.method)).toEqual([
      'initialize',
      'session/new',
      'session/set_mode',
      'session/prompt',
    ])
    expect(agent.seen[2]!.params).toEqual({ sessionId: 's1', modeId: 'yolo' })
  })

  it('loads a session it does not hold when the agent can, and refuses when it cannot', async () => {
    const able = fakeAgent({ loadSession: true })
    const p = await start(able.runtime)
    expect(await p.session('old', '/w')).toBe('old')
    expect(able.seen.at(-1)).toMatchObject({
      method: 'session/load',
      params: { sessionId: 'old', cwd: '/w', mcpServers: [] },
    })
    const unable = await start(fakeAgent().runtime)
    await expect(unable.session('old', '/w')).rejects.toThrow(/cannot load/)
  })

  it("answers the agent's permission request with what onRequest decides", async () => {
    const agent = fakeAgent()
    const p = await start(agent.runtime)
    const id = await p.session(undefined, '/w')
    expect(await p.prompt(id, 'ask', () => {})).toEqual({
      stopReason: 'end_turn',
      answered: { outcome: { outcome: 'selected', optionId: 'no' } },
    })
  })

  it('fails the prompt under way when the agent exits, and says it ended', async () => {
    const agent = fakeAgent()
    const p = await start(agent.runtime)
    const id = await p.session(undefined, '/w')
    const pending = p.prompt(id, 'ask', () => {})
    agent.exit(1)
    await expect(pending).rejects.toThrow('the agent exited (1)')
    expect(p.ended).toBe(true)
  })
})
