import { describe, expect, it } from 'vitest'
import type { CoreContext } from '../context.ts'
import { noopLogger } from '../logger.ts'
import type { AgentPlugin } from '../plugin/contract.ts'
import type { SpawnedCommand, SpawningRuntime } from '../runtime.ts'
import type { WorkerRecord } from '../worker-record.ts'
import { acpAgentFor } from './processes.ts'

/** A runtime whose spawned agents answer `initialize` and `session/new`, and say where they run. */
const runtime = () => {
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
          const result =
            m.method === 'initialize'
              ? { protocolVersion: 1, agentCapabilities: {} }
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
})
