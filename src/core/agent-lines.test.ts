import { describe, expect, it } from 'vitest'
import { AgentLines, MAX_UPDATE_LINE_BYTES } from './agent-lines.ts'
import { defineAgent, type AgentUpdate } from './plugin/contract.ts'

const agent = defineAgent({
  apiVersion: 'v1',
  name: 'lines',
  version: '1.0.0',
  description: 'test agent',
  prompt: (r) => ({ argv: ['echo', r.prompt] }),
  parse: (r) => ({ text: r.stdout, raw: null }),
  // Each `{"say": …}` line is a text chunk; `turn` counts the lines seen.
  updates: (line, turn) => {
    turn.n = Number(turn.n ?? 0) + 1
    if (line.boom) throw new Error('the plugin broke')
    if (line.bad) return [{ sessionUpdate: 'no_such_update' } as never]
    return typeof line.say === 'string'
      ? [
          {
            sessionUpdate: 'agent_message_chunk',
            content: { type: 'text', text: `${turn.n}:${line.say}` },
          },
        ]
      : []
  },
})

/** Ends its turn on a `{"done": …}` line. */
const ender = defineAgent({
  ...agent,
  name: 'ender',
  updates: (line) => (line.done ? [{ sessionUpdate: 'turn_end', stopReason: 'end_turn' }] : []),
})

const run = (chunks: string[]) => {
  const got: AgentUpdate[] = []
  const faults: unknown[] = []
  const lines = new AgentLines(
    agent,
    (u) => got.push(u),
    (e) => faults.push(e),
  )
  for (const c of chunks) lines.push(c)
  lines.end()
  const texts = got.map((u) => (u.sessionUpdate === 'agent_message_chunk' ? u.content : u))
  return { texts: texts.map((t) => (t as { text?: string }).text), faults }
}

describe('agent output lines to updates', () => {
  it('reads JSON lines split anywhere across chunks, the last one without a newline too', () => {
    const out = '{"say":"a"}\nnot json\n{"say":"b"}\n[1,2]\n{"say":"c"}'
    for (let cut = 1; cut < out.length; cut++) {
      expect(run([out.slice(0, cut), out.slice(cut)]).texts).toEqual(['1:a', '2:b', '3:c'])
    }
  })

  it('passes over a line too long to hold, and goes on after it', () => {
    const long = `{"say":"${'x'.repeat(MAX_UPDATE_LINE_BYTES)}"}`
    const { texts } = run([
      '{"say":"a"}\n',
      long.slice(0, 1000),
      long.slice(1000),
      '\n{"say":"b"}\n',
    ])
    expect(texts).toEqual(['1:a', '2:b'])
  })

  it('ends a stopped run’s turn as cancelled, unless the CLI ended it', () => {
    const ends = (chunks: string[], stopped: boolean) => {
      const got: AgentUpdate[] = []
      const lines = new AgentLines(ender, (u) => got.push(u))
      for (const c of chunks) lines.push(c)
      lines.end(stopped)
      return got.filter((u) => u.sessionUpdate === 'turn_end')
    }
    expect(ends(['{"say":"a"}\n'], true)).toEqual([
      { sessionUpdate: 'turn_end', stopReason: 'cancelled' },
    ])
    expect(ends(['{"say":"a"}\n'], false)).toEqual([])
    expect(ends(['{"done":1}\n'], true)).toEqual([
      { sessionUpdate: 'turn_end', stopReason: 'end_turn' },
    ])
  })

  it('drops the lines of a failing or invalid hook, reports it once, and goes on', () => {
    const { texts, faults } = run(['{"boom":1}\n{"bad":1}\n{"say":"ok"}\n{"boom":1}\n'])
    expect(texts).toEqual(['3:ok'])
    expect(faults).toHaveLength(1)
    expect(String(faults[0])).toMatch(/plugin 'lines' updates\(\)/)
  })
})
