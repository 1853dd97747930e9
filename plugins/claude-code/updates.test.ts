import { describe, expect, it } from 'vitest'
import {
  agentReply,
  agentUpdates,
  agentUpdateSchema,
  jsonLines,
  obj,
  type AgentUpdate,
  type ExecOutcome,
  type Json,
} from 'workers-spawner/plugin'
import plugin from './index.ts'
import { recording } from './recordings.ts'
import { MAX_TOOL_TEXT, cut } from './tools.ts'
import { updates } from './updates.ts'

/** Lines through the hook as the core feeds them: each JSON-object line, one turn per run. */
const feed = (lines: Json[], turn: Record<string, unknown> = {}): AgentUpdate[] =>
  lines.flatMap((line) => agentUpdates(plugin, line, turn))

const updatesOf = (name: string) => feed(jsonLines(recording(name)))

const outcome = (stdout: string): ExecOutcome => ({
  exitCode: 0,
  stdout,
  stderr: '',
  timedOut: false,
  durationMs: 1,
})

const replyOf = (name: string) => agentReply(plugin, outcome(recording(name)))

const of = <K extends AgentUpdate['sessionUpdate']>(list: AgentUpdate[], kind: K) =>
  list.filter((u): u is Extract<AgentUpdate, { sessionUpdate: K }> => u.sessionUpdate === kind)

const textOf = (u: { content: unknown }) => (u.content as { text: string }).text

const said = (list: AgentUpdate[]) => of(list, 'agent_message_chunk').map(textOf)

/** The text said after the last tool call: claude's `result` is its last message's text. */
const saidLast = (list: AgentUpdate[]) => {
  const last = list.findLastIndex((u) => u.sessionUpdate.startsWith('tool_call'))
  return said(list.slice(last + 1)).join('')
}

/** The text blocks of the main agent's complete messages, in order: what a run says. */
const textBlocks = (name: string) =>
  jsonLines(recording(name)).flatMap((l) =>
    l.type === 'assistant' && !l.parent_tool_use_id && !l.is_api_error_message
      ? (obj(l.message).content as Json[]).flatMap((b) => (b.type === 'text' ? [b.text] : []))
      : [],
  )

const TEXT_ONLY = ['text', 'text-resumed', 'text-streamed', 'text-deltas-streamed', 'json-mode']
const WITH_TOOLS = ['tools', 'tools-streamed', 'tasks', 'todo']
const STREAMED = ['text-streamed', 'text-deltas-streamed', 'tools-streamed']

describe('claude-code updates on real runs', () => {
  it('is the plugin’s updates hook', () => {
    expect(plugin.updates).toBe(updates)
  })

  it.each(TEXT_ONLY)('%s: the chunks are exactly the reply parse reads', (name) => {
    const list = updatesOf(name)
    expect(said(list).join('')).toBe(replyOf(name).text)
    expect(of(list, 'tool_call')).toEqual([])
  })

  it.each(WITH_TOOLS)(
    '%s: every text block is said once, in order; the reply is what follows the tool calls',
    (name) => {
      const list = updatesOf(name)
      expect(said(list).join('')).toBe(textBlocks(name).join(''))
      expect(saidLast(list)).toBe(replyOf(name).text)
      expect(of(list, 'tool_call').length).toBeGreaterThan(0)
    },
  )

  it.each([...TEXT_ONLY, ...WITH_TOOLS])(
    '%s: valid updates; the usage parse reports, then one turn_end, last',
    (name) => {
      const list = updatesOf(name)
      for (const u of list) expect(agentUpdateSchema.parse(u)).toEqual(u)
      const reply = replyOf(name)
      expect(of(list, 'turn_end')).toHaveLength(1)
      expect(list.at(-1)).toEqual({
        sessionUpdate: 'turn_end',
        stopReason: 'end_turn',
        sessionId: reply.sessionId,
      })
      expect(of(list, 'usage_update')).toEqual([{ sessionUpdate: 'usage_update', ...reply.usage }])
      expect(list.at(-2)).toMatchObject({ sessionUpdate: 'usage_update' })
      expect(of(list, 'error')).toEqual([])
    },
  )

  it.each(STREAMED)('%s: text as its deltas, never again in full', (name) => {
    const lines = jsonLines(recording(name))
    const deltas = lines.flatMap((l) => {
      const delta = obj(obj(l.event).delta)
      return l.type === 'stream_event' && delta.type === 'text_delta' ? [delta.text] : []
    })
    expect(deltas.length).toBeGreaterThan(0)
    expect(said(feed(lines))).toEqual(deltas)
  })

  it('text-deltas-streamed: a reply in two deltas is two chunks', () => {
    expect(said(updatesOf('text-deltas-streamed'))).toEqual(['1', '2'])
  })

  it('streamed text is not repeated when the events leave out api_message_id', () => {
    const lines = jsonLines(recording('text-streamed')).map(({ api_message_id: _, ...l }) => l)
    expect(said(feed(lines))).toEqual(['42'])
  })

  it('tools, tools-streamed: the thinking as thought chunks', () => {
    const thinking = 'The user wants tools. Let me list the files first.'
    expect(of(updatesOf('tools'), 'agent_thought_chunk').map(textOf)).toEqual([thinking])
    const streamed = of(updatesOf('tools-streamed'), 'agent_thought_chunk').map(textOf)
    expect(streamed.length).toBe(2)
    expect(streamed.join('')).toBe(thinking)
  })

  it.each(WITH_TOOLS)('%s: each tool call, then its one result under the same id', (name) => {
    const list = updatesOf(name)
    const uses = jsonLines(recording(name)).flatMap((l) =>
      l.type === 'assistant'
        ? (obj(l.message).content as Json[]).filter((b) => b.type === 'tool_use')
        : [],
    )
    const calls = of(list, 'tool_call')
    expect(calls.map((c) => c.toolCallId)).toEqual(uses.map((u) => u.id))
    calls.forEach((call, i) => expect(call.rawInput).toEqual(uses[i]!.input))
    for (const call of calls) {
      expect(call.status).toBe('in_progress')
      const at = list.indexOf(call)
      const done = of(list, 'tool_call_update').filter((u) => u.toolCallId === call.toolCallId)
      expect(done).toHaveLength(1)
      expect(list.indexOf(done[0]!)).toBeGreaterThan(at)
      expect(['completed', 'failed']).toContain(done[0]!.status)
    }
  })
})

describe('claude-code tool calls (tools recording)', () => {
  const list = updatesOf('tools')
  const call = (id: string) => of(list, 'tool_call').find((u) => u.toolCallId === id)
  const done = (id: string) => of(list, 'tool_call_update').find((u) => u.toolCallId === id)

  it('titles, kinds and locations say what each call does', () => {
    const seen = of(list, 'tool_call').map(({ title, kind, locations }) => ({
      title,
      kind,
      ...(locations ? { locations } : {}),
    }))
    const file = [{ path: '/workspace/a.txt' }]
    expect(seen).toEqual([
      { title: 'Run: ls -la /workspace', kind: 'execute' },
      { title: 'Update the plan', kind: 'think' },
      { title: 'Write /workspace/a.txt', kind: 'edit', locations: file },
      { title: 'Read /workspace/a.txt', kind: 'read', locations: file },
      { title: 'Edit /workspace/a.txt', kind: 'edit', locations: file },
      { title: 'Search bye in /workspace', kind: 'search', locations: [{ path: '/workspace' }] },
      { title: 'Find **/*.txt', kind: 'search' },
      { title: 'Run: echo oops >&2; exit 3', kind: 'execute' },
      {
        title: 'Read /workspace/missing.txt',
        kind: 'read',
        locations: [{ path: '/workspace/missing.txt' }],
      },
      { title: 'Task: List the files', kind: 'think' },
      { title: 'Run: ls /workspace', kind: 'execute' },
    ])
    expect(call('toolu_rec_1')!.rawInput).toEqual({
      command: 'ls -la /workspace',
      description: 'List files in workspace',
    })
  })

  it('a result: its text as content, the tool’s own output as rawOutput', () => {
    expect(done('toolu_rec_4')).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'toolu_rec_4',
      status: 'completed',
      content: [{ type: 'content', content: { type: 'text', text: '1\thello\n2\tworld\n3\t' } }],
      rawOutput: {
        type: 'text',
        file: {
          filePath: '/workspace/a.txt',
          content: 'hello\nworld\n',
          numLines: 3,
          startLine: 1,
          totalLines: 3,
        },
      },
    })
  })

  it('a file written or edited comes with its diff', () => {
    const diff = (id: string) => done(id)!.content!.filter((c) => c.type === 'diff')
    expect(diff('toolu_rec_3')).toEqual([
      { type: 'diff', path: '/workspace/a.txt', oldText: null, newText: 'hello\nworld\n' },
    ])
    expect(diff('toolu_rec_5')).toEqual([
      { type: 'diff', path: '/workspace/a.txt', oldText: 'hello', newText: 'bye' },
    ])
  })

  it('failures are failed: a command that exits 3, a missing file, a tool the session lacks', () => {
    expect(done('toolu_rec_8')).toMatchObject({
      status: 'failed',
      content: [{ type: 'content', content: { type: 'text', text: 'Exit code 3\noops' } }],
    })
    expect(done('toolu_rec_9')).toMatchObject({ status: 'failed' })
    // The <tool_use_error> tag claude writes for the model is left out.
    expect(textOf(done('toolu_rec_6')!.content![0] as { content: unknown })).toMatch(
      /^Error: No such tool available: Grep\./,
    )
    // A refused TodoWrite is no plan.
    expect(done('toolu_rec_2')).toMatchObject({ status: 'failed' })
    expect(of(list, 'plan')).toEqual([])
  })

  it('a sub-agent: its tool calls show, between the Agent call and its result; its prompt is not said', () => {
    const ids = list.flatMap((u) =>
      'toolCallId' in u ? [`${u.sessionUpdate}:${u.toolCallId}`] : [],
    )
    expect(ids.slice(-4)).toEqual([
      'tool_call:toolu_rec_10',
      'tool_call:toolu_rec_11',
      'tool_call_update:toolu_rec_11',
      'tool_call_update:toolu_rec_10',
    ])
    expect(said(list).join('')).not.toContain('SUBAGENT')
  })
})

describe('claude-code plan', () => {
  const entry = (content: string, status: string) => ({ content, priority: 'medium', status })

  it('tasks: the task tools keep the plan once task #1 starts the list', () => {
    expect(of(updatesOf('tasks'), 'plan').map((p) => p.entries)).toEqual([
      [entry('Write a.txt', 'pending')],
      [entry('Write a.txt', 'pending'), entry('Edit a.txt', 'pending')],
      [entry('Write a.txt', 'in_progress'), entry('Edit a.txt', 'pending')],
      // TaskList: the list as claude has it.
      [entry('Write a.txt', 'in_progress'), entry('Edit a.txt', 'pending')],
      [entry('Write a.txt', 'completed'), entry('Edit a.txt', 'pending')],
    ])
  })

  it('tasks: a plan follows the result of the call that changed it', () => {
    const list = updatesOf('tasks')
    const first = list.findIndex((u) => u.sessionUpdate === 'plan')
    expect(list[first - 1]).toMatchObject({
      sessionUpdate: 'tool_call_update',
      status: 'completed',
    })
  })

  it('tasks: a task list started in an earlier prompt is not guessed at', () => {
    // The same run as a later prompt of the session would see it: task ids past #1.
    const later = recording('tasks').replaceAll('"id":"1"', '"id":"7"')
    const plans = of(feed(jsonLines(later.replaceAll('"taskId":"1"', '"taskId":"7"'))), 'plan')
    // Until TaskList gives the whole list, nothing; from then on, the list.
    expect(plans.map((p) => p.entries)).toEqual([
      [entry('Write a.txt', 'in_progress'), entry('Edit a.txt', 'pending')],
      [entry('Write a.txt', 'completed'), entry('Edit a.txt', 'pending')],
    ])
  })

  it('todo: TodoWrite’s new list is the plan', () => {
    expect(of(updatesOf('todo'), 'plan')).toEqual([
      { sessionUpdate: 'plan', entries: [entry('Write a.txt', 'completed')] },
    ])
  })
})

describe('claude-code failures and stops', () => {
  const failure = (name: string) => {
    try {
      replyOf(name)
    } catch (err) {
      return (err as Error).message
    }
    throw new Error(`${name} parsed as a reply`)
  }

  it.each(['api-error', 'unknown-session'])(
    '%s: usage, then the error parse reports; no turn_end',
    (name) => {
      const list = updatesOf(name)
      for (const u of list) expect(agentUpdateSchema.parse(u)).toEqual(u)
      expect(list.map((u) => u.sessionUpdate)).toEqual(['usage_update', 'error'])
      expect(failure(name)).toBe((list[1] as { message: string }).message)
      expect(said(list)).toEqual([])
    },
  )

  it.each([
    ['max-turns', 'max_turn_requests', /\(error_max_turns\): Reached maximum number of turns/],
    ['max-tokens-streamed', 'max_tokens', /\(success, max_output_tokens\): API Error/],
    ['refusal-streamed', 'refusal', /safeguards flagged this message/],
  ])('%s: the error, then turn_end %s, last', (name, stopReason, message) => {
    const list = updatesOf(name)
    for (const u of list) expect(agentUpdateSchema.parse(u)).toEqual(u)
    expect(list.slice(-3).map((u) => u.sessionUpdate)).toEqual([
      'usage_update',
      'error',
      'turn_end',
    ])
    expect(list.at(-1)).toMatchObject({ stopReason })
    expect(of(list, 'turn_end')).toHaveLength(1)
    expect((list.at(-2) as { message: string }).message).toMatch(message)
    expect(failure(name)).toBe((list.at(-2) as { message: string }).message)
  })

  it('max-tokens-streamed: the API error claude words as a message is not said', () => {
    expect(said(updatesOf('max-tokens-streamed')).join('')).toBe('Cut sh'.repeat(4))
  })

  it('an interrupted run ends cancelled', () => {
    // The recorded result line with the terminal_reason claude's result schema gives a run
    // whose tools or stream were aborted ("aborted_tools", "aborted_streaming").
    const lines = jsonLines(recording('text'))
    const result = { ...lines.at(-1)!, terminal_reason: 'aborted_tools' }
    expect(feed([...lines.slice(0, -1), result]).at(-1)).toMatchObject({
      sessionUpdate: 'turn_end',
      stopReason: 'cancelled',
    })
  })
})

describe('claude-code updates on odd input', () => {
  it('lines that say nothing, or say it wrong, give nothing', () => {
    const odd: Json[] = [
      {},
      { type: 'system', subtype: 'init' },
      { type: 'nonsense' },
      { type: 'assistant' },
      { type: 'assistant', message: 'hi' },
      { type: 'assistant', message: { content: 'hi' } },
      { type: 'assistant', message: { content: [null, 1, 'x', { type: 'text', text: 5 }] } },
      { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Bash' }] } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'unseen' }] } },
      { type: 'user', message: { content: [{ type: 'text', text: 'a prompt' }] } },
      { type: 'stream_event' },
      { type: 'stream_event', event: null },
      {
        type: 'stream_event',
        event: { type: 'content_block_delta', delta: { type: 'text_delta' } },
      },
      { type: 'stream_event', event: { type: 'content_block_delta', delta: 'x' } },
    ]
    const turn = {}
    for (const line of odd) expect(agentUpdates(plugin, line, turn)).toEqual([])
  })

  it('names that are object keys are just names', () => {
    const use = { type: 'tool_use', id: 'constructor', name: 'hasOwnProperty', input: 5 }
    const result = {
      type: 'user',
      message: { content: [{ type: 'tool_result', tool_use_id: 'constructor', content: 7 }] },
      tool_use_result: { todos: 'x' },
    }
    const list = feed([{ type: 'assistant', message: { content: [use] } }, result])
    expect(list).toEqual([
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'constructor',
        title: 'hasOwnProperty',
        kind: 'other',
        status: 'in_progress',
        rawInput: {},
      },
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'constructor',
        status: 'completed',
        content: [{ type: 'content', content: { type: 'text', text: '' } }],
        rawOutput: { todos: 'x' },
      },
    ])
  })

  it('nothing follows the result line; a new turn starts afresh', () => {
    const lines = jsonLines(recording('text'))
    const turn = {}
    feed(lines, turn)
    expect(feed(lines, turn)).toEqual([])
    expect(of(feed(lines), 'turn_end')).toHaveLength(1)
  })
})

describe('claude-code tool results in other shapes', () => {
  // The Bash call and result lines of the tools recording, with the result's content changed
  // to shapes the Messages API allows for a tool_result (long text; text and image blocks).
  const lines = jsonLines(recording('tools'))
  const call = lines.find((l) => JSON.stringify(l).includes('"id":"toolu_rec_1"'))!
  const result = lines.find((l) => JSON.stringify(l).includes('"tool_use_id":"toolu_rec_1"'))!
  const withContent = (content: unknown, output?: unknown): Json => ({
    ...result,
    message: {
      role: 'user',
      content: [{ tool_use_id: 'toolu_rec_1', type: 'tool_result', content }],
    },
    tool_use_result: output,
  })
  const updateFor = (line: Json) => of(feed([call, line]), 'tool_call_update')[0]!

  it('text over 8 KiB is cut with a marker, and no rawOutput is sent', () => {
    const long = 'x'.repeat(MAX_TOOL_TEXT + 100)
    const update = updateFor(withContent(long, { stdout: long, stderr: '' }))
    const text = textOf(update.content![0] as { content: unknown })
    expect(text).toBe(`${'x'.repeat(MAX_TOOL_TEXT)}\n… [100 more bytes cut]`)
    expect(update.rawOutput).toBeUndefined()
  })

  it('text blocks are joined; an image is left out', () => {
    const blocks = [
      { type: 'text', text: 'one' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
      { type: 'text', text: 'two' },
    ]
    const update = updateFor(withContent(blocks))
    expect(update.content).toEqual([
      { type: 'content', content: { type: 'text', text: 'one\ntwo' } },
    ])
  })

  it('cuts on a character boundary', () => {
    const text = `${'a'.repeat(MAX_TOOL_TEXT - 1)}é and more`
    expect(cut(text)).toBe(`${'a'.repeat(MAX_TOOL_TEXT - 1)}\n… [11 more bytes cut]`)
  })

  it('an MCP tool is titled by its tool and server', () => {
    const mcp = JSON.parse(
      JSON.stringify(call).replace('"name":"Bash"', '"name":"mcp__orchestrator__spawn"'),
    ) as Json
    expect(of(feed([mcp]), 'tool_call')[0]).toMatchObject({
      title: 'spawn (orchestrator)',
      kind: 'other',
    })
  })
})
