import { describe, expect, it } from 'vitest'
import type { CoreContext } from '../context.ts'
import { noopLogger } from '../logger.ts'
import type { AgentPlugin } from '../plugin/contract.ts'
import type { SpawnedCommand, SpawningRuntime } from '../runtime.ts'
import type { WorkerRecord } from '../worker-record.ts'
import { acpAgentFor } from './processes.ts'
import { runAcpTurn } from './turn.ts'

/**
 * A runtime whose spawned agents answer `initialize`, `session/new` and prompts (saying `says`
 * first, when set), and say where they run.
 */
const runtime = (says?: string) => {
  const started: { containerId: string; ended: boolean }[] = []
  const spawn: SpawningRuntime['spawn'] = async (containerId, req) => {
    const me = { containerId, ended: false }
    started.push(me)
    let end!: (code: number) => void
    const exited = new Promise<number>((r) => (end = r))
    const cmd: SpawnedCommand = {
      write: (data) => {
        for (const line of data.split('\n').filter(Boolean)) {
          const m = JSON.parse(line) as { id?: number; method?: string }
          if (m.method === 'session/prompt' && says) {
            const update = {
              sessionUpdate: 'agent_message_chunk',
              content: { type: 'text', text: says },
            }
            const note = {
              jsonrpc: '2.0',
              method: 'session/update',
              params: { sessionId: 's1', update },
            }
            req.onOutput('stdout', `${JSON.stringify(note)}\n`)
          }
          const result =
            m.method === 'initialize'
              ? { protocolVersion: 1, agentCapabilities: {} }
              : m.method === 'session/prompt'
                ? { stopReason: 'end_turn' }
                : { sessionId: 's1' }
          req.onOutput('stdout', `${JSON.stringify({ jsonrpc: '2.0', id: m.id, result })}\n`)
        }
      },
      end: () => {
        me.ended = true
        end(0)
      },
      kill: async () => end(137),
      exited,
    }
    return cmd
  }
  return { started, spawn }
}

describe('acpAgentFor', () => {
  it('keeps one agent per worker, and starts a new one when the worker runs in a new container', async () => {
    const rt = runtime()
    const ctx = {
      runtime: { spawn: rt.spawn },
      logger: noopLogger,
      events: { subscribe: () => () => {} },
    } as unknown as CoreContext
    const agent = { name: 'fake', acp: { argv: ['fake', 'acp'] } } as unknown as AgentPlugin
    const record = {
      workerId: 'w-0000000000000001',
      containerId: 'c1',
      env: {},
      workdir: '/workspace',
    } as unknown as WorkerRecord
    const first = await acpAgentFor(ctx, record, agent)
    expect(await acpAgentFor(ctx, record, agent)).toBe(first)
    // A restore replaced the container: the agent of the old one goes, a new one starts.
    record.containerId = 'c2'
    const second = await acpAgentFor(ctx, record, agent)
    expect(second).not.toBe(first)
    expect(rt.started.map((s) => [s.containerId, s.ended])).toEqual([
      ['c1', true],
      ['c2', false],
    ])
  })

  it('ends a turn in which the agent said nothing as a failure, never as an empty reply', async () => {
    const turn = async (says?: string) => {
      const ctx = {
        runtime: { spawn: runtime(says).spawn },
        logger: noopLogger,
        events: { subscribe: () => () => {} },
      } as unknown as CoreContext
      const agent = { name: 'fake', acp: { argv: ['fake', 'acp'] } } as unknown as AgentPlugin
      const record = { workerId: 'w-0000000000000002', containerId: 'c1', env: {}, workdir: '/' }
      const req = { argv: ['fake', 'acp'], timeoutMs: 60_000 }
      const updates: string[] = []
      const out = await runAcpTurn(
        ctx,
        record as unknown as WorkerRecord,
        agent,
        { prompt: 'hi' },
        req,
        (u) => updates.push(u.sessionUpdate),
      )
      return { out, updates }
    }
    const spoken = await turn('12')
    expect(spoken.out.reply?.text).toBe('12')
    expect(spoken.out.failure).toBeUndefined()
    const silent = await turn()
    expect(silent.out.reply).toBeUndefined()
    expect(silent.out.failure?.message).toMatch(/ended its turn without a word/)
    expect(silent.updates).toEqual(['error', 'turn_end'])
  })
})
