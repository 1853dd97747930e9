import { describe, expect, it } from 'vitest'
import {
  agentReply,
  agentUpdates,
  jsonLines,
  type AgentUpdate,
  type ExecOutcome,
  type Json,
} from 'workers-spawner/plugin'
import { AgentLines } from '../../src/core/agent-lines.ts'
import droid from './index.ts'
import { recording } from './recordings.ts'
import { planOf } from './todos.ts'
import { cut, MAX_TOOL_TEXT_BYTES } from './updates.ts'

const run = (stdout: string, exitCode = 0): ExecOutcome => ({
  exitCode,
  stdout,
  stderr: '',
  timedOut: false,
  durationMs: 500,
})

/** Every line of one run's stdout through the hook, as the core feeds it: one turn object. */
const updatesOf = (stdout: string, turn: Json = {}): AgentUpdate[] =>
  jsonLines(stdout).flatMap((line) => agentUpdates(droid, line, turn))

const only = <K extends AgentUpdate['sessionUpdate']>(all: AgentUpdate[], kind: K) =>
  all.filter((u): u is Extract<AgentUpdate, { sessionUpdate: K }> => u.sessionUpdate === kind)

/** A content block's text. */
const textIn = (block: { type: string; text?: unknown } | undefined) =>
  typeof block?.text === 'string' ? block.text : undefined

/** What the agent said in the turn: its message chunks, joined. */
const textOf = (all: AgentUpdate[]) =>
  only(all, 'agent_message_chunk')
    .map((u) => textIn(u.content) ?? '')
    .join('')

const SUCCESSES = ['json-ok', 'json-fork', 'stream-ok', 'json-tools', 'stream-tools']
const FAILURES = ['json-auth', 'stream-auth', 'json-conn', 'stream-conn']

describe('factory-droid updates on real output', () => {
  it.each(SUCCESSES)('%s: one turn_end, last, with the reply’s session id', (name) => {
    const stdout = recording(name)
    const all = updatesOf(stdout)
    const reply = agentReply(droid, run(stdout))
    expect(only(all, 'turn_end')).toHaveLength(1)
    expect(all.at(-1)).toEqual({
      sessionUpdate: 'turn_end',
      stopReason: 'end_turn',
      sessionId: reply.sessionId,
    })
    expect(only(all, 'error')).toEqual([])
  })

  it.each(['json-ok', 'json-fork', 'stream-ok', 'json-tools'])(
    '%s: the text chunks are the reply parse returns',
    (name) => {
      const stdout = recording(name)
      expect(textOf(updatesOf(stdout))).toBe(agentReply(droid, run(stdout)).text)
    },
  )

  it('stream-tools: each message once, the last one being the reply; thoughts once each', () => {
    const stdout = recording('stream-tools')
    const all = updatesOf(stdout)
    const reply = agentReply(droid, run(stdout))
    // droid's final text is its last message; the turn said more on the way.
    expect(textOf(all)).toBe(`Let me look around.\n\n${reply.text}`)
    expect(reply.text).toBe('Done: notes.txt says hello world.')
    // droid prints a chat model's reasoning twice (as reasoning content and as a thinking block).
    expect(only(all, 'agent_thought_chunk').map((u) => u.content)).toEqual([
      { type: 'text', text: 'I should look around first.' },
      { type: 'text', text: 'All done.' },
    ])
  })

  it("through the core's line reader, stdout in odd chunks gives the same updates", () => {
    const stdout = recording('stream-tools')
    const seen: AgentUpdate[] = []
    const faults: unknown[] = []
    const lines = new AgentLines(
      droid,
      (u) => seen.push(u),
      (e) => faults.push(e),
    )
    for (let i = 0; i < stdout.length; i += 777) lines.push(stdout.slice(i, i + 777))
    lines.end()
    expect(faults).toEqual([])
    expect(seen).toEqual(updatesOf(stdout))
    expect(seen.length).toBeGreaterThan(20)
  })

  it('reports usage before the end', () => {
    const all = updatesOf(recording('stream-ok'))
    expect(all.slice(-2, -1)).toEqual([
      {
        sessionUpdate: 'usage_update',
        inputTokens: 12,
        outputTokens: 3,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
      },
    ])
    expect(only(updatesOf(recording('json-tools')), 'usage_update')[0]).toMatchObject({
      inputTokens: 426,
      outputTokens: 66,
    })
  })

  it.each(FAILURES)('%s: errors, no turn_end, as parse throws', (name) => {
    const stdout = recording(name)
    const all = updatesOf(stdout)
    expect(() => agentReply(droid, run(stdout, 1))).toThrow()
    expect(only(all, 'turn_end')).toEqual([])
    expect(only(all, 'error').length).toBeGreaterThan(0)
    expect(textOf(all)).toBe('')
  })

  it("says droid's own messages when it fails", () => {
    const messages = (name: string) =>
      only(updatesOf(recording(name)), 'error').map((u) => u.message)
    expect(messages('stream-conn')).toEqual(['Connection error.', 'Exec failed'])
    expect(messages('json-conn')).toEqual(['Exec failed'])
    expect(messages('stream-auth')[0]).toMatch(/^Error: Authentication failed/)
    expect(messages('json-auth')[0]).toMatch(/^Authentication failed/)
  })

  describe('stream-tools: tool calls', () => {
    const all = updatesOf(recording('stream-tools'))
    const calls = only(all, 'tool_call')
    const results = only(all, 'tool_call_update')
    const call = (id: string) => calls.find((c) => c.toolCallId === id)
    const result = (id: string) => results.find((r) => r.toolCallId === id)
    const said = (id: string) => {
      const first = result(id)?.content?.[0]
      return first?.type === 'content' ? textIn(first.content) : undefined
    }

    it('every call is followed by one result with the same id', () => {
      expect(calls.map((c) => c.toolCallId)).toEqual(results.map((r) => r.toolCallId))
      expect(calls).toHaveLength(12)
      for (const c of calls) {
        const [at, done] = [all.indexOf(c), all.indexOf(result(c.toolCallId)!)]
        expect(at).toBeLessThan(done)
        expect(c.status).toBe('in_progress')
      }
    })

    it('names each call in a short line, with its kind and where it works', () => {
      const seen = calls.map((c) => [c.title, c.kind, c.locations])
      expect(seen).toEqual([
        ['Update the plan', 'think', undefined],
        ['Run: ls -la /workspace', 'execute', undefined],
        ['Create /workspace/notes.txt', 'edit', [{ path: '/workspace/notes.txt' }]],
        ['Read /workspace/missing.txt', 'read', [{ path: '/workspace/missing.txt' }]],
        ['Run: seq 1 3000', 'execute', undefined],
        ['Read /etc/services', 'read', [{ path: '/etc/services' }]],
        ['Run: head -c 20000 /dev/zero | tr "\\0" x', 'execute', undefined],
        ['Edit /workspace/notes.txt', 'edit', [{ path: '/workspace/notes.txt' }]],
        ['Grep hello in /workspace', 'search', [{ path: '/workspace' }]],
        ['Glob *.txt in /workspace', 'search', [{ path: '/workspace' }]],
        ['List /workspace', 'read', [{ path: '/workspace' }]],
        ['Update the plan', 'think', undefined],
      ])
      expect(call('call_1_1')?.rawInput).toEqual({
        command: 'ls -la /workspace',
        riskLevel: 'low',
        riskLevelReason: 'lists files',
      })
    })

    it('shows edits as diffs', () => {
      expect(call('call_2_0')?.content).toEqual([
        { type: 'diff', path: '/workspace/notes.txt', oldText: null, newText: 'hello\n' },
      ])
      expect(call('call_3_0')?.content).toEqual([
        { type: 'diff', path: '/workspace/notes.txt', oldText: 'hello', newText: 'hello world' },
      ])
    })

    it('results: output as text and raw, failures with their message', () => {
      expect(result('call_1_1')?.status).toBe('completed')
      expect(said('call_1_1')).toMatch(/^total \d+\n.*\[Process exited with code 0\]$/s)
      expect(result('call_1_1')?.rawOutput).toBe(said('call_1_1'))
      expect(result('call_2_1')).toMatchObject({
        status: 'failed',
        rawOutput: { type: 'tool_error' },
      })
      expect(said('call_2_1')).toMatch(/ENOENT: no such file or directory/)
      expect(said('call_3_1')).toBe('./notes.txt')
    })

    it('cuts a long output at 8 KiB, with a marker, and leaves out the raw output', () => {
      const text = said('call_2_3')!
      expect(text).toMatch(/^# Network services, Internet style/)
      expect(text).toMatch(/\n\[… cut: 12990 bytes in all\]$/)
      expect(new TextEncoder().encode(text).length).toBeLessThan(MAX_TOOL_TEXT_BYTES + 40)
      expect(result('call_2_3')?.rawOutput).toBeUndefined()
    })

    it('no plan from a todo list droid refused', () => {
      expect(result('call_1_0')?.status).toBe('failed')
      expect(said('call_1_0')).toMatch(/TodoWrite is registered but is not available/)
      expect(only(all, 'plan')).toEqual([])
    })
  })
})

// Lines droid prints for what the stub cannot make it do. Their shapes are the CLI's own: the
// exec command's stream-json writer in droid 0.225.2 prints `tool_call` as { id, messageId,
// toolId, toolName, parameters, timestamp, session_id } and `tool_result` as { id, messageId,
// toolId, isError, value | error: { type: 'tool_error', message } }; TodoWrite answers
// "TODO List Updated" when it took the list; ApplyPatch's input is { input: <patch text> }.
const line = (fields: Json) => ({ timestamp: 1796203618581, session_id: 's-1', ...fields })
const TODO_CALL = line({
  type: 'tool_call',
  id: 'call_9_0',
  messageId: 'm-1',
  toolId: 'TodoWrite',
  toolName: 'TodoWrite',
  parameters: { todos: '1. [completed] List files\n2. [in_progress] Write notes\n3. Ship it' },
})
const TODO_DONE = line({
  type: 'tool_result',
  id: 'call_9_0',
  messageId: 'm-2',
  toolId: 'TodoWrite',
  isError: false,
  value: 'TODO List Updated',
})
const PATCH_CALL = line({
  type: 'tool_call',
  id: 'call_9_1',
  messageId: 'm-1',
  toolId: 'ApplyPatch',
  toolName: 'ApplyPatch',
  parameters: {
    input: '*** Begin Patch\n*** Update File: src/a.ts\n@@\n-a\n+b\n*** End Patch',
  },
})
const MCP_CALL = line({
  type: 'tool_call',
  id: 'call_9_2',
  messageId: 'm-1',
  toolId: 'github___create_issue',
  toolName: 'github___create_issue',
  parameters: { title: 'x' },
})

describe('factory-droid updates from the CLI’s schema', () => {
  it('a todo list droid took becomes the plan, after its result', () => {
    const turn = {}
    expect(agentUpdates(droid, TODO_CALL, turn)).toMatchObject([
      { sessionUpdate: 'tool_call', toolCallId: 'call_9_0', title: 'Update the plan' },
    ])
    expect(agentUpdates(droid, TODO_DONE, turn)).toEqual([
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'call_9_0',
        status: 'completed',
        content: [{ type: 'content', content: { type: 'text', text: 'TODO List Updated' } }],
        rawOutput: 'TODO List Updated',
      },
      {
        sessionUpdate: 'plan',
        entries: [
          { content: 'List files', status: 'completed', priority: 'high' },
          { content: 'Write notes', status: 'in_progress', priority: 'high' },
          { content: 'Ship it', status: 'pending', priority: 'high' },
        ],
      },
    ])
  })

  it('a patch names its files; an unknown tool keeps its name', () => {
    expect(agentUpdates(droid, PATCH_CALL, {})).toMatchObject([
      { title: 'Patch src/a.ts', kind: 'edit', locations: [{ path: 'src/a.ts' }] },
    ])
    expect(agentUpdates(droid, MCP_CALL, {})).toEqual([
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'call_9_2',
        title: 'github___create_issue',
        kind: 'other',
        status: 'in_progress',
        rawInput: { title: 'x' },
      },
    ])
  })

  it('a long command is one short title line', () => {
    const command = `echo ${'a'.repeat(300)}\necho b`
    const [u] = agentUpdates(
      droid,
      { ...MCP_CALL, toolName: 'Execute', parameters: { command } },
      {},
    )
    expect(u).toMatchObject({ kind: 'execute' })
    const title = (u as { title: string }).title
    expect(title.startsWith('Run: echo aaa')).toBe(true)
    expect(title).toHaveLength(120)
    expect(title).not.toContain('\n')
  })

  it('a run droid ends early says its final text, once', () => {
    const turn = {}
    const end = { type: 'completion', finalText: ' Airgap Mode is enabled. ', session_id: 's-1' }
    expect(textOf(updatesOf(JSON.stringify(end), turn))).toBe('Airgap Mode is enabled.')
    expect(updatesOf(JSON.stringify(end), turn)).toEqual([])
  })
})

describe('factory-droid updates on odd input', () => {
  it('lines that say nothing, or say it badly, give nothing and never throw', () => {
    const odd: Json[] = [
      {},
      { type: 'system', subtype: 'init', session_id: 's' },
      { type: 'message', role: 'user', text: 'hi' },
      { type: 'message', role: 'assistant', text: 42 },
      { type: 'message', role: 'assistant', text: '   ' },
      { type: 'reasoning', text: null },
      { type: 'tool_call', toolName: 'Read' },
      { type: 'tool_result', id: 7, isError: true },
      { type: 'error' },
      { type: 'something_new', id: 'x' },
      { type: ['message'] },
    ]
    for (const l of odd) expect(agentUpdates(droid, l, {}), JSON.stringify(l)).toEqual([])
  })

  it('odd fields still give valid updates', () => {
    const turn = {}
    expect(
      agentUpdates(droid, { type: 'tool_call', id: 'a', toolName: 'Read', parameters: 5 }, turn),
    ).toMatchObject([{ title: 'Read', kind: 'read' }])
    expect(agentUpdates(droid, { type: 'tool_result', id: 'a', isError: true }, turn)).toEqual([
      { sessionUpdate: 'tool_call_update', toolCallId: 'a', status: 'failed' },
    ])
    expect(agentUpdates(droid, { type: 'result', is_error: true }, {})).toEqual([
      { sessionUpdate: 'error', message: 'droid exec failed' },
    ])
    expect(agentUpdates(droid, { type: 'completion', usage: 'lots' }, {})).toEqual([
      { sessionUpdate: 'turn_end', stopReason: 'end_turn' },
    ])
  })

  it('a turn ends once', () => {
    const turn = {}
    const stdout = recording('stream-ok')
    expect(only(updatesOf(stdout, turn), 'turn_end')).toHaveLength(1)
    expect(updatesOf(stdout, turn)).toEqual([])
  })
})

describe('cut', () => {
  it('keeps short text whole and never splits a character', () => {
    expect(cut('short')).toEqual({ text: 'short', whole: true })
    const { text, whole } = cut('é'.repeat(5000))
    expect(whole).toBe(false)
    expect(text).not.toContain('\uFFFD')
    expect(text.startsWith('é'.repeat(4096))).toBe(true)
    expect(text).toMatch(/\[… cut: 10000 bytes in all\]$/)
  })
})

describe('planOf', () => {
  it('reads the forms droid takes', () => {
    expect(planOf('- [x] a\n* [ ] b\n[in_progress] c\n2) d\n- e\nf')).toEqual([
      { content: 'a', status: 'completed', priority: 'high' },
      { content: 'b', status: 'pending', priority: 'high' },
      { content: 'c', status: 'in_progress', priority: 'high' },
      { content: 'd', status: 'pending', priority: 'high' },
      { content: 'e', status: 'pending', priority: 'high' },
      { content: 'f', status: 'pending', priority: 'high' },
    ])
    expect(planOf(['[completed] a', 'b'])).toEqual([
      { content: 'a', status: 'completed', priority: 'high' },
      { content: 'b', status: 'pending', priority: 'high' },
    ])
    const items = [
      { id: '1', content: 'a', status: 'in_progress', priority: 'low' },
      { content: 'b', status: 'odd' },
      { content: '' },
    ]
    const read = [
      { content: 'a', status: 'in_progress', priority: 'low' },
      { content: 'b', status: 'pending', priority: 'medium' },
    ]
    expect(planOf(items.slice(0, 3))).toEqual(read)
    expect(planOf(JSON.stringify(items.slice(0, 3)))).toEqual(read)
  })

  it('nothing that reads as a todo gives no plan', () => {
    for (const todos of [undefined, '', '  \n ', [], 5, {}, [{ content: 3 }]])
      expect(planOf(todos), JSON.stringify(todos)).toBeUndefined()
  })
})
