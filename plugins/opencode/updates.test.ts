import { describe, expect, it } from 'vitest'
import {
  agentReply,
  agentUpdates,
  agentUpdateSchema,
  jsonLines,
  type AgentUpdate,
  type ExecOutcome,
} from 'workers-spawner/plugin'
import plugin from './index.ts'
import * as recorded from './output.fixtures.ts'
import { MAX_TOOL_TEXT } from './updates.ts'

// The hook as the core calls it: every JSON line of one run, in order, with one turn object.
const updatesOf = (stdout: string, turn: Record<string, unknown> = {}): AgentUpdate[] =>
  jsonLines(stdout).flatMap((line) => agentUpdates(plugin, line, turn))

const outcome = (stdout: string, exitCode = 0): ExecOutcome => ({
  exitCode,
  stdout: stdout.trimStart(),
  stderr: '',
  timedOut: false,
  durationMs: 2500,
})

const replyOf = (stdout: string) => agentReply(plugin, outcome(stdout))

const chunks = (updates: AgentUpdate[]) =>
  updates.flatMap((u) =>
    u.sessionUpdate === 'agent_message_chunk' && u.content.type === 'text'
      ? [(u.content as { text: string }).text]
      : [],
  )

/**
 * The text said after the last tool call that was followed by any: `parse` answers with the last
 * message that has text, and opencode starts a new message after each step with tool calls.
 */
const lastSaid = (updates: AgentUpdate[]) => {
  const said: string[][] = [[]]
  for (const u of updates) {
    if (u.sessionUpdate === 'tool_call') said.push([])
    else said.at(-1)!.push(...chunks([u]))
  }
  return said.findLast((s) => s.length)?.join('') ?? ''
}

const toolCalls = (updates: AgentUpdate[]) => updates.filter((u) => u.sessionUpdate === 'tool_call')

const TEXT_ONLY = {
  FIRST: recorded.FIRST,
  SECOND: recorded.SECOND,
  PLAIN: recorded.PLAIN,
  STREAMED: recorded.STREAMED,
  THINKING: recorded.THINKING,
  LENGTH: recorded.LENGTH,
}
const WITH_TOOLS = {
  TOOL: recorded.TOOL,
  TOOLS: recorded.TOOLS,
  TASK: recorded.TASK,
  FETCH_FAILED: recorded.FETCH_FAILED,
}
const SUCCESSFUL = { ...TEXT_ONLY, ...WITH_TOOLS }

describe('opencode updates on real output', () => {
  it.each(Object.entries(TEXT_ONLY))('%s: the chunks are exactly the reply', (_, stdout) => {
    const updates = updatesOf(stdout)
    expect(chunks(updates).join('')).toBe(replyOf(stdout).text)
    expect(toolCalls(updates)).toEqual([])
  })

  it.each(Object.entries(WITH_TOOLS))(
    '%s: every text part is said in order; the reply is what follows the tool calls',
    (_, stdout) => {
      const updates = updatesOf(stdout)
      const parts = jsonLines(stdout).flatMap((l) => (l.type === 'text' ? [l.part] : []))
      expect(chunks(updates)).toEqual(parts.map((p) => (p as { text: string }).text))
      expect(lastSaid(updates)).toBe(replyOf(stdout).text)
      expect(toolCalls(updates).length).toBeGreaterThan(0)
    },
  )

  it.each(Object.entries(SUCCESSFUL))(
    '%s: one turn_end, last, after the usage parse reports',
    (_, stdout) => {
      const updates = updatesOf(stdout)
      for (const u of updates) expect(agentUpdateSchema.parse(u)).toEqual(u)
      const reply = replyOf(stdout)
      expect(updates.filter((u) => u.sessionUpdate === 'turn_end')).toHaveLength(1)
      expect(updates.at(-1)).toMatchObject({
        sessionUpdate: 'turn_end',
        sessionId: reply.sessionId,
      })
      const { cacheWriteInputTokens, ...usage } = reply.usage!
      expect(updates.at(-2)).toEqual({
        sessionUpdate: 'usage_update',
        ...usage,
        cacheCreationInputTokens: cacheWriteInputTokens,
      })
      expect(updates.filter((u) => u.sessionUpdate === 'usage_update')).toHaveLength(1)
    },
  )

  it.each(Object.entries(WITH_TOOLS))(
    '%s: each tool call is followed by its result, under the same id',
    (_, stdout) => {
      const updates = updatesOf(stdout)
      const ids = toolCalls(updates).map((u) => (u as { toolCallId: string }).toolCallId)
      expect(new Set(ids).size).toBe(ids.length)
      for (const id of ids) {
        const at = updates.findIndex((u) => u.sessionUpdate === 'tool_call' && u.toolCallId === id)
        expect(updates[at]).toMatchObject({ status: 'in_progress' })
        expect(updates[at + 1]).toMatchObject({ sessionUpdate: 'tool_call_update', toolCallId: id })
        expect(['completed', 'failed']).toContain((updates[at + 1] as { status: string }).status)
      }
    },
  )

  it('maps a text-only answer', () => {
    expect(updatesOf(recorded.PLAIN)).toEqual([
      { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: '12' } },
      {
        sessionUpdate: 'usage_update',
        inputTokens: 12,
        outputTokens: 3,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        costUsd: 0,
      },
      { sessionUpdate: 'turn_end', stopReason: 'end_turn', sessionId: expect.any(String) },
    ])
  })

  it('says the reasoning opencode prints with --thinking as thought, before the answer', () => {
    const updates = updatesOf(recorded.THINKING)
    expect(updates.slice(0, 2)).toEqual([
      {
        sessionUpdate: 'agent_thought_chunk',
        content: { type: 'text', text: 'The user asks for 2 + 2. That is 4.' },
      },
      { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: '4' } },
    ])
  })

  it('maps the tool calls: title, kind, input, locations, output, diffs and failures', () => {
    const byId = (id: string) =>
      updatesOf(recorded.TOOLS).filter((u) => 'toolCallId' in u && u.toolCallId === id)
    expect(byId('call_2_1')).toEqual([
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'call_2_1',
        title: 'Run: echo hi && ls /workspace',
        kind: 'execute',
        status: 'in_progress',
        rawInput: { command: 'echo hi && ls /workspace', description: 'Say hi' },
      },
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'call_2_1',
        status: 'completed',
        content: [{ type: 'content', content: { type: 'text', text: 'hi\n' } }],
        rawOutput: { output: 'hi\n', metadata: { output: 'hi\n', exit: 0, truncated: false } },
      },
    ])
    const notes = { locations: [{ path: '/workspace/notes.txt' }] }
    expect(byId('call_3_0')).toMatchObject([
      { title: 'Write /workspace/notes.txt', kind: 'edit', ...notes },
      {
        status: 'completed',
        content: [
          { type: 'content', content: { type: 'text', text: 'Wrote file successfully.' } },
          { type: 'diff', path: '/workspace/notes.txt', oldText: null, newText: 'one\ntwo\n' },
        ],
      },
    ])
    expect(byId('call_3_1')).toEqual([
      expect.objectContaining({ title: 'Read /workspace/missing.txt', kind: 'read' }),
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'call_3_1',
        status: 'failed',
        content: [
          {
            type: 'content',
            content: { type: 'text', text: 'File not found: /workspace/missing.txt' },
          },
        ],
        rawOutput: { error: 'File not found: /workspace/missing.txt' },
      },
    ])
    expect(byId('call_4_0')).toMatchObject([
      { title: 'Edit /workspace/notes.txt', kind: 'edit', ...notes },
      {
        status: 'completed',
        content: [
          { type: 'content', content: { type: 'text', text: 'Edit applied successfully.' } },
          { type: 'diff', path: '/workspace/notes.txt', oldText: 'two', newText: 'three' },
        ],
      },
    ])
    expect(byId('call_4_1')[0]).toMatchObject({ title: 'Find **/*.txt', kind: 'search' })
    expect(byId('call_4_2')[0]).toMatchObject({
      title: 'Search thr in /workspace',
      kind: 'search',
      locations: [{ path: '/workspace' }],
    })
  })

  it('turns the todo list into a plan, after the todowrite call', () => {
    const updates = updatesOf(recorded.TOOLS)
    const at = updates.findIndex((u) => u.sessionUpdate === 'plan')
    expect(updates[at - 1]).toMatchObject({ toolCallId: 'call_2_0', status: 'completed' })
    expect(updates[at]).toEqual({
      sessionUpdate: 'plan',
      entries: [
        { content: 'Write the notes', priority: 'high', status: 'in_progress' },
        { content: 'Check them', priority: 'medium', status: 'pending' },
      ],
    })
  })

  it('shows a subagent task and a refused fetch as tool calls', () => {
    expect(toolCalls(updatesOf(recorded.TASK))).toEqual([
      expect.objectContaining({ title: 'Task: Add the numbers', kind: 'think' }),
    ])
    const fetch = updatesOf(recorded.FETCH_FAILED)
    expect(toolCalls(fetch)).toEqual([
      expect.objectContaining({ title: 'Fetch http://example.invalid/page', kind: 'fetch' }),
    ])
    expect(fetch[1]).toMatchObject({ status: 'failed' })
  })

  it('ends a turn cut at the output limit with max_tokens', () => {
    expect(updatesOf(recorded.LENGTH).at(-1)).toMatchObject({ stopReason: 'max_tokens' })
  })

  it('reports a filtered answer as an error, then the turn ending in refusal', () => {
    const updates = updatesOf(recorded.FILTERED)
    expect(updates.map((u) => u.sessionUpdate)).toEqual(['error', 'usage_update', 'turn_end'])
    const message = "ContentFilterError: The response was blocked by the provider's content filter"
    expect(updates[0]).toEqual({ sessionUpdate: 'error', message })
    expect(updates[2]).toMatchObject({ stopReason: 'refusal' })
    expect(() => agentReply(plugin, outcome(recorded.FILTERED, 1))).toThrow(message)
  })

  it('reports a failing model as the error parse throws, without a turn_end', () => {
    for (const stdout of [recorded.UNREACHABLE, recorded.NOT_FOUND]) {
      const updates = updatesOf(stdout)
      expect(updates).toEqual([{ sessionUpdate: 'error', message: expect.any(String) }])
      const message = (updates[0] as { message: string }).message
      expect(() => agentReply(plugin, outcome(stdout, 1))).toThrow(`(${message})`)
    }
  })
})

// Lines made from the real ones above, changed where a run could not be recorded as wanted.
describe('opencode updates on edge cases', () => {
  const lines = jsonLines(recorded.PLAIN)
  const [start, text, finish] = lines as [
    Record<string, unknown>,
    { part: Record<string, unknown> },
    { part: Record<string, unknown> },
  ]
  const toText = (...l: object[]) => l.map((x) => JSON.stringify(x)).join('\n')

  it('joins two text parts of one message as parse does', () => {
    const second = { ...text, part: { ...text.part, id: 'prt_second', text: 'and more' } }
    const stdout = toText(start, text, second, finish)
    expect(replyOf(stdout).text).toBe('12\n\nand more')
    expect(chunks(updatesOf(stdout)).join('')).toBe('12\n\nand more')
  })

  it('cuts a long tool output at 8 KiB with a marker, and leaves the raw output out', () => {
    const bash = jsonLines(recorded.TOOLS).find(
      (l) => l.type === 'tool_use' && JSON.stringify(l).includes('"bash"'),
    )!
    const part = bash.part as { state: Record<string, unknown> }
    const long = {
      ...bash,
      part: { ...part, state: { ...part.state, output: 'x'.repeat(20_000), metadata: {} } },
    }
    const [, done] = updatesOf(toText(long))
    const said = (done as { content: { content: { text: string } }[] }).content[0]!.content.text
    expect(said).toBe(
      `${'x'.repeat(MAX_TOOL_TEXT)}\n… [${20_000 - MAX_TOOL_TEXT} more characters cut]`,
    )
    expect(done).not.toHaveProperty('rawOutput')
  })

  it('ends a turn once, however many steps say stop', () => {
    const turn = {}
    const twice = [...updatesOf(recorded.PLAIN, turn), ...updatesOf(toText(finish), turn)]
    expect(twice.filter((u) => u.sessionUpdate === 'turn_end')).toHaveLength(1)
  })

  it('gives nothing for lines it does not know, and never throws', () => {
    const odd: Record<string, unknown>[] = [
      {},
      { type: 'step_start' },
      { type: 'something_new', part: { text: 'hi' } },
      { type: 'text' },
      { type: 'text', part: { text: 42 } },
      { type: 'text', part: 'hi' },
      { type: 'reasoning', part: { text: '' } },
      { type: 'tool_use', part: { tool: 'bash', callID: 'c1', state: { status: 'running' } } },
      { type: 'tool_use', part: { tool: 'bash', state: { status: 'completed' } } },
      { type: 'tool_use', part: { callID: 'c1', tool: 'bash', state: 'done' } },
      { type: 'step_finish', part: { reason: 'tool-calls', tokens: 'many' } },
      { type: 'step_finish', part: { reason: 'unknown' } },
      { type: ['text'] },
    ]
    for (const line of odd) expect(agentUpdates(plugin, line, {}), JSON.stringify(line)).toEqual([])
  })

  it('keeps odd fields inside the schema', () => {
    const odd: Record<string, unknown>[] = [
      { type: 'error' },
      { type: 'error', error: { name: 'constructor', data: 'x' } },
      { type: 'step_finish', part: null, sessionID: 7 },
      {
        type: 'tool_use',
        part: { callID: 'c2', tool: 'constructor', state: { status: 'error', input: [1] } },
      },
      {
        type: 'tool_use',
        part: {
          callID: 'c3',
          tool: 'todowrite',
          state: { status: 'completed', input: { todos: [{ content: 'a', status: 'odd' }] } },
        },
      },
    ]
    for (const line of odd) {
      const updates = agentUpdates(plugin, line, {})
      for (const u of updates) expect(agentUpdateSchema.parse(u)).toEqual(u)
    }
    expect(agentUpdates(plugin, odd[1]!, {})).toEqual([
      { sessionUpdate: 'error', message: 'constructor: no message' },
    ])
    expect(agentUpdates(plugin, odd[3]!, {})[0]).toMatchObject({
      title: 'constructor',
      kind: 'other',
    })
    expect(agentUpdates(plugin, odd[4]!, {}).map((u) => u.sessionUpdate)).not.toContain('plan')
  })
})
