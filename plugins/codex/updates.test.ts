import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  agentReply,
  agentUpdateSchema,
  agentUpdates,
  jsonLines,
  type AgentUpdate,
  type Json,
} from 'workers-spawner/plugin'
import codex from './index.ts'
import { MAX_TOOL_TEXT_BYTES, shownCommand } from './tools.ts'

/**
 * Real output: `recordings/*.jsonl` is codex 0.171.0's stdout, captured in a worker of the
 * service against the test stub model (`*-sse` through a prompt sent with
 * `Accept: text/event-stream`, the rest without). For the tool recordings the stub answered with
 * the tool calls Codex's model makes (reasoning, a word first, a `custom_tool_call` of Codex's
 * `exec` tool running `exec_command`, `apply_patch` or an MCP server's tool, a hosted
 * `web_search_call`), so the items are Codex's own; for `mcp` the worker's config.toml named a
 * small stdio MCP server (`docs`, tool `search`, which answers `isError` for "fail"). `rejected` and `dead` are the failed runs of index.test.ts.
 */
const recording = (name: string) =>
  readFileSync(new URL(`./recordings/${name}.jsonl`, import.meta.url), 'utf8')

/** Feeds stdout's JSON lines to the hook as the core does: one turn object, validated results. */
const run = (stdout: string) => {
  const turn: Record<string, unknown> = {}
  return jsonLines(stdout).flatMap((line) => agentUpdates(codex, line, turn))
}

/** Feeds lines written as objects (the fixtures taken from Codex's schema). */
const feed = (lines: Json[]) => run(lines.map((l) => JSON.stringify(l)).join('\n'))

const reply = (stdout: string) =>
  agentReply(codex, { exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 })

const of = <K extends AgentUpdate['sessionUpdate']>(updates: AgentUpdate[], kind: K) =>
  updates.filter((u): u is Extract<AgentUpdate, { sessionUpdate: K }> => u.sessionUpdate === kind)

/** A content block's text ('' for another kind of block). */
const textOf = (block: { type: string; text?: unknown }) =>
  block.type === 'text' && typeof block.text === 'string' ? block.text : ''

const chunks = (updates: AgentUpdate[], kind: 'agent_message_chunk' | 'agent_thought_chunk') =>
  of(updates, kind)
    .map((u) => textOf(u.content))
    .join('')

/** What Codex said, message by message, in a recording. */
const messages = (stdout: string) =>
  jsonLines(stdout)
    .filter((l) => l.type === 'item.completed')
    .map((l) => l.item as Json)
    .filter((i) => i.type === 'agent_message')
    .map((i) => i.text as string)

const SUCCESSFUL = [
  'fresh',
  'resumed-sse',
  'tools',
  'tools-sse',
  'patches',
  'long-output',
  'two-messages-sse',
  'web-search',
  'mcp',
]

describe('codex updates on real output', () => {
  it.each(SUCCESSFUL)('%s: valid updates, the reply as chunks, one turn_end last', (name) => {
    const stdout = recording(name)
    const updates = run(stdout)
    const parsed = reply(stdout)
    for (const u of updates) expect(agentUpdateSchema.safeParse(u).success).toBe(true)

    // Every message once, a blank line apart; the last is the reply.
    const said = messages(stdout)
    expect(chunks(updates, 'agent_message_chunk')).toBe(said.join('\n\n'))
    expect(said.at(-1)).toBe(parsed.text)

    const ends = of(updates, 'turn_end')
    expect(ends).toEqual([
      { sessionUpdate: 'turn_end', stopReason: 'end_turn', sessionId: parsed.sessionId },
    ])
    expect(updates.at(-1)).toBe(ends[0])
    // This prompt's usage, as parse counts it (a resumed thread's total less the one before).
    const [usage] = of(updates, 'usage_update')
    expect(updates.at(-2)).toBe(usage)
    expect(usage).toMatchObject({
      inputTokens: parsed.usage!.inputTokens,
      outputTokens: parsed.usage!.outputTokens,
      cacheReadInputTokens: parsed.usage!.cachedInputTokens,
      cacheCreationInputTokens: 0,
    })
    expect(of(updates, 'error')).toEqual([])
  })

  it.each(['fresh', 'resumed-sse'])('%s: the message chunks are exactly the reply', (name) => {
    const stdout = recording(name)
    expect(chunks(run(stdout), 'agent_message_chunk')).toBe(reply(stdout).text)
    expect(reply(stdout).text).toBe('12')
  })

  it('tells a resumed prompt’s usage apart from the thread’s running total', () => {
    // turn.completed says 24 in, 6 out: the thread so far; RUN_SCRIPT's line said 12 and 3.
    expect(of(run(recording('resumed-sse')), 'usage_update')).toEqual([
      {
        sessionUpdate: 'usage_update',
        inputTokens: 12,
        outputTokens: 3,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
      },
    ])
  })

  const TOOL_CALLS = {
    tools: 3,
    'tools-sse': 3,
    patches: 2,
    'long-output': 1,
    'web-search': 1,
    mcp: 2,
  }
  it.each(Object.entries(TOOL_CALLS))(
    '%s: %i tool calls, each opens once, ends under its id',
    (name, count) => {
      const updates = run(recording(name))
      const ids = new Set(of(updates, 'tool_call').map((u) => u.toolCallId))
      expect(of(updates, 'tool_call')).toHaveLength(count)
      expect(ids.size).toBe(count)
      for (const u of of(updates, 'tool_call_update')) expect(ids.has(u.toolCallId)).toBe(true)
      for (const id of ids) {
        const mine = updates.filter((u) => 'toolCallId' in u && u.toolCallId === id)
        expect(mine[0]!.sessionUpdate).toBe('tool_call')
        expect(mine[0]).toMatchObject({ status: 'in_progress' })
        expect(mine.at(-1)).toMatchObject({ sessionUpdate: 'tool_call_update' })
        expect(['completed', 'failed']).toContain((mine.at(-1) as { status: string }).status)
      }
    },
  )

  it('maps commands, their output and exit, a patch, a reasoning summary', () => {
    const updates = run(recording('tools'))
    expect(updates.map((u) => u.sessionUpdate)).toEqual([
      'agent_thought_chunk',
      'agent_message_chunk',
      'tool_call',
      'tool_call_update',
      'tool_call',
      'tool_call_update',
      'tool_call',
      'tool_call_update',
      'agent_message_chunk',
      'usage_update',
      'turn_end',
    ])
    expect(chunks(updates, 'agent_thought_chunk')).toBe('**Planning**\n\nI will run step 0.')
    const command = "/bin/bash -lc 'echo hello from tool && ls -a /workspace'"
    expect(updates[2]).toEqual({
      sessionUpdate: 'tool_call',
      toolCallId: 'item_2',
      title: 'Run: echo hello from tool && ls -a /workspace',
      kind: 'execute',
      status: 'in_progress',
      rawInput: { command },
    })
    const output = 'hello from tool\n.\n..\n'
    expect(updates[3]).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'item_2',
      status: 'completed',
      content: [{ type: 'content', content: { type: 'text', text: output } }],
      rawOutput: { exitCode: 0, output },
    })
    expect(updates[4]).toMatchObject({ title: 'Run: cat /nonexistent' })
    expect(updates[5]).toMatchObject({ status: 'failed', rawOutput: { exitCode: 1 } })
    expect(updates[6]).toEqual({
      sessionUpdate: 'tool_call',
      toolCallId: 'item_4',
      title: 'Add /workspace/notes.txt',
      kind: 'edit',
      status: 'in_progress',
      rawInput: { changes: [{ path: '/workspace/notes.txt', kind: 'add' }] },
      locations: [{ path: '/workspace/notes.txt' }],
    })
    expect(updates[7]).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'item_4',
      status: 'completed',
      content: [{ type: 'content', content: { type: 'text', text: 'add /workspace/notes.txt' } }],
    })
  })

  it('names a patch of several files, and a deletion', () => {
    const calls = of(run(recording('patches')), 'tool_call')
    expect(calls.map(({ title, kind }) => ({ title, kind }))).toEqual([
      { title: 'Edit 2 files', kind: 'edit' },
      { title: 'Delete /workspace/more.txt', kind: 'delete' },
    ])
    expect(calls[0]!.locations).toEqual([
      { path: '/workspace/more.txt' },
      { path: '/workspace/notes.txt' },
    ])
  })

  it('cuts a long output at 8 KiB with a marker, and leaves the raw output out', () => {
    const updates = run(recording('long-output'))
    const [call] = of(updates, 'tool_call')
    // Codex quotes a command holding a single quote in double quotes.
    expect(call!.title).toBe(`Run: seq 1 3000; printf '%s\\n' "it's"`)
    const [end] = of(updates, 'tool_call_update')
    const block = end!.content![0]!
    const text = block.type === 'content' ? textOf(block.content) : ''
    expect(text.startsWith('1\n2\n3\n')).toBe(true)
    expect(text).toMatch(/\n… \[cut: 13898 bytes in all\]$/)
    const kept = text.slice(0, text.indexOf('\n… [cut'))
    expect(new TextEncoder().encode(kept).length).toBeLessThanOrEqual(MAX_TOOL_TEXT_BYTES)
    expect(end!.rawOutput).toBeUndefined()
    expect(end!.status).toBe('completed')
  })

  it('keeps two messages in a row apart', () => {
    const updates = run(recording('two-messages-sse'))
    expect(of(updates, 'agent_message_chunk').map((u) => u.content)).toEqual([
      { type: 'text', text: 'Running the tools for names.' },
      { type: 'text', text: '\n\n2' },
    ])
  })

  it('shows a web search by its query', () => {
    const updates = run(recording('web-search'))
    // Codex writes the item's `id` twice; JSON keeps the search's own (`ws_…`), on both lines.
    expect(of(updates, 'tool_call')).toEqual([
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'ws_17',
        title: 'Search the web: vitest retry flaky',
        kind: 'fetch',
        status: 'in_progress',
        rawInput: {
          query: 'vitest retry flaky',
          action: { type: 'search', query: 'vitest retry flaky' },
        },
      },
    ])
    expect(of(updates, 'tool_call_update')).toEqual([
      { sessionUpdate: 'tool_call_update', toolCallId: 'ws_17', status: 'completed' },
    ])
  })

  it('maps an MCP tool call, and one the server answered with an error', () => {
    const updates = run(recording('mcp'))
    const text = (t: string) => [{ type: 'content', content: { type: 'text', text: t } }]
    expect(updates.slice(2, 6)).toEqual([
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'item_2',
        title: 'Call docs.search',
        kind: 'other',
        status: 'in_progress',
        rawInput: { q: 'zod' },
      },
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'item_2',
        status: 'completed',
        content: text('found: zod'),
        rawOutput: {
          content: [{ type: 'text', text: 'found: zod' }],
          structured_content: { hits: 1 },
        },
      },
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'item_3',
        title: 'Call docs.search',
        kind: 'other',
        status: 'in_progress',
        rawInput: { q: 'fail' },
      },
      // `isError` from the server: Codex marks the call failed and keeps the content.
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'item_3',
        status: 'failed',
        content: text('no such doc'),
        rawOutput: { content: [{ type: 'text', text: 'no such doc' }], structured_content: null },
      },
    ])
  })

  it('reports a failed turn as errors, once each, without a turn_end', () => {
    const url = 'http://host.docker.internal:32773/401/v1/responses'
    const message = `unexpected status 401 Unauthorized: Incorrect API key provided, url: ${url}`
    expect(run(recording('rejected'))).toEqual([
      { sessionUpdate: 'error', message: `Reconnecting... 1/5 (${message})` },
      { sessionUpdate: 'error', message },
    ])
  })

  it('says why a run that never ends waits, without a turn_end', () => {
    expect(run(recording('dead'))).toEqual([
      {
        sessionUpdate: 'error',
        message: 'Reconnecting... waiting for network (Connection failed: error sending request)',
      },
    ])
  })
})

/**
 * Items the stub cannot make Codex emit, written from Codex's schema: `ThreadItemDetails` in
 * openai/codex `codex-rs/exec/src/exec_events.rs` (the JSONL types of `codex exec --json`;
 * serde-tagged by `type`, snake_case, the item's fields flattened beside `id`) and how
 * `codex-rs/exec/src/event_processor_with_jsonl_output.rs` emits them. The type and field names
 * (`todo_list`, `mcp_tool_call`, `structured_content`, `collab_tool_call`, `agents_states`,
 * `receiver_thread_ids`, …) are in the 0.171.0 binary of the worker image.
 */
describe('codex updates on items from Codex’s schema', () => {
  const START = [
    { type: 'thread.started', thread_id: '01a21a49-0603-7f93-be46-979985c9f450' },
    { type: 'turn.started' },
  ]
  const END = {
    type: 'turn.completed',
    usage: { input_tokens: 10, cached_input_tokens: 4, output_tokens: 2 },
  }

  it('passes on MCP content blocks other than text as their JSON', () => {
    // McpToolCallItem: server, tool, arguments, result { content, structured_content }, error,
    // status; started in_progress with result and error null.
    const call = {
      id: 'item_1',
      type: 'mcp_tool_call',
      server: 'docs',
      tool: 'search',
      arguments: { q: 'zod' },
      result: null,
      error: null,
      status: 'in_progress',
    }
    const result = {
      content: [
        { type: 'text', text: 'zod 4 docs' },
        { type: 'resource_link', uri: 'https://zod.dev', name: 'zod' },
      ],
      structured_content: null,
    }
    const updates = feed([
      ...START,
      { type: 'item.started', item: call },
      { type: 'item.completed', item: { ...call, result, status: 'completed' } },
      END,
    ])
    expect(of(updates, 'tool_call')).toEqual([
      {
        sessionUpdate: 'tool_call',
        toolCallId: 'item_1',
        title: 'Call docs.search',
        kind: 'other',
        status: 'in_progress',
        rawInput: { q: 'zod' },
      },
    ])
    const text = `zod 4 docs\n${JSON.stringify(result.content[1])}`
    expect(of(updates, 'tool_call_update')).toEqual([
      {
        sessionUpdate: 'tool_call_update',
        toolCallId: 'item_1',
        status: 'completed',
        content: [{ type: 'content', content: { type: 'text', text } }],
        rawOutput: result,
      },
    ])
    expect(updates.at(-1)).toMatchObject({ sessionUpdate: 'turn_end' })
    expect(of(updates, 'usage_update')[0]).toMatchObject({
      inputTokens: 10,
      cacheReadInputTokens: 4,
    })
  })

  it('reports an MCP call that failed before the server answered with its error', () => {
    const call = { id: 'item_2', type: 'mcp_tool_call', server: 's', tool: 't', arguments: {} }
    const error = { message: 'tool not found' }
    const updates = feed([
      { type: 'item.started', item: { ...call, result: null, error: null, status: 'in_progress' } },
      { type: 'item.completed', item: { ...call, result: null, error, status: 'failed' } },
    ])
    expect(updates[1]).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'item_2',
      status: 'failed',
      content: [{ type: 'content', content: { type: 'text', text: 'tool not found' } }],
      rawOutput: error,
    })
  })

  it('turns the to-do list into the plan, each change once', () => {
    // TodoListItem { items: [{ text, completed }] }: item.started at the first plan, item.updated
    // with the same id on each change, item.completed with the last list when the turn ends.
    const list = (done: boolean[]) => ({
      id: 'item_0',
      type: 'todo_list',
      items: done.map((completed, i) => ({ text: `step ${i + 1}`, completed })),
    })
    const updates = feed([
      ...START,
      { type: 'item.started', item: list([false, false]) },
      { type: 'item.updated', item: list([true, false]) },
      { type: 'item.completed', item: list([true, false]) },
      END,
    ])
    const entry = (n: number, status: string) => ({
      content: `step ${n}`,
      priority: 'medium',
      status,
    })
    expect(of(updates, 'plan')).toEqual([
      { sessionUpdate: 'plan', entries: [entry(1, 'pending'), entry(2, 'pending')] },
      { sessionUpdate: 'plan', entries: [entry(1, 'completed'), entry(2, 'pending')] },
    ])
  })

  it('maps a sub-agent call, and what each agent said', () => {
    // CollabToolCallItem: tool, sender_thread_id, receiver_thread_ids, prompt, agents_states
    // ({ thread: { status, message } }), status.
    const call = {
      id: 'item_3',
      type: 'collab_tool_call',
      tool: 'spawn_agent',
      sender_thread_id: 'root',
      receiver_thread_ids: ['child-1'],
      prompt: 'count the files',
    }
    const states = { 'child-1': { status: 'completed', message: '3 files' } }
    const updates = feed([
      { type: 'item.started', item: { ...call, agents_states: {}, status: 'in_progress' } },
      { type: 'item.completed', item: { ...call, agents_states: states, status: 'completed' } },
    ])
    expect(updates[0]).toMatchObject({
      sessionUpdate: 'tool_call',
      title: 'Sub-agent: spawn agent',
      kind: 'other',
      rawInput: { tool: 'spawn_agent', prompt: 'count the files', receiverThreadIds: ['child-1'] },
    })
    expect(updates[1]).toMatchObject({
      status: 'completed',
      content: [
        { type: 'content', content: { type: 'text', text: 'child-1: completed: 3 files' } },
      ],
    })
  })

  it('opens a tool call first seen done (a declined command), and ends it failed', () => {
    const updates = feed([
      {
        type: 'item.completed',
        item: {
          id: 'item_5',
          type: 'command_execution',
          command: "/bin/bash -lc 'rm -rf /'",
          aggregated_output: '',
          exit_code: null,
          status: 'declined',
        },
      },
    ])
    expect(updates.map((u) => [u.sessionUpdate, 'status' in u && u.status])).toEqual([
      ['tool_call', 'in_progress'],
      ['tool_call_update', 'failed'],
    ])
    expect(updates[0]).toMatchObject({ title: 'Run: rm -rf /' })
  })

  it('passes on a patch’s diff where a newer Codex gives one', () => {
    const changes = [{ path: '/w/a.ts', kind: 'update', diff: '@@ -1 +1 @@\n-a\n+b\n' }]
    const updates = feed([
      { type: 'item.completed', item: { id: 'p', type: 'file_change', changes, status: 'failed' } },
    ])
    expect(updates[1]).toMatchObject({
      status: 'failed',
      content: [{ type: 'content', content: { type: 'text', text: changes[0]!.diff } }],
    })
    expect(updates[0]).toMatchObject({ title: 'Edit /w/a.ts', locations: [{ path: '/w/a.ts' }] })
  })

  it('reports an error item (a warning Codex goes on after) as an error', () => {
    const warning = { id: 'item_9', type: 'error', message: 'model rerouted: a -> b' }
    expect(feed([{ type: 'item.completed', item: warning }])).toEqual([
      { sessionUpdate: 'error', message: 'model rerouted: a -> b' },
    ])
  })

  it('sends nothing after the turn’s end', () => {
    const late = { type: 'item.completed', item: { id: 'x', type: 'agent_message', text: 'late' } }
    const updates = feed([...START, END, late, END])
    expect(updates.map((u) => u.sessionUpdate)).toEqual(['usage_update', 'turn_end'])
  })
})

describe('codex updates on odd input', () => {
  it('gives nothing for lines that say nothing or make no sense', () => {
    const odd: Json[] = [
      {},
      { type: 'nope' },
      { type: 42 },
      { type: 'turn.started' },
      { type: 'item.completed' },
      { type: 'item.completed', item: 'text' },
      { type: 'item.started', item: { type: 'command_execution', command: 'ls' } },
      { type: 'item.started', item: { id: '', type: 'command_execution' } },
      { type: 'item.completed', item: { id: 'a', type: 'image_generation' } },
      { type: 'item.completed', item: { id: 'a', type: 'agent_message', text: 7 } },
      { type: 'item.completed', item: { id: 'a', type: 'agent_message', text: '' } },
      { type: 'item.started', item: { id: 'a', type: 'agent_message', text: 'partial' } },
      { type: 'item.plan.delta', item_id: 'a', delta: 'x' },
      { type: 'error' },
      { type: 'event_msg', payload: { type: 'token_count', info: null } },
    ]
    for (const line of odd) expect(feed([line]), JSON.stringify(line)).toEqual([])
  })

  it('never throws nor breaks the schema, whatever the fields hold', () => {
    const types = ['item.started', 'item.updated', 'item.completed', 'turn.completed']
    const kinds = ['command_execution', 'file_change', 'mcp_tool_call', 'web_search']
    const itemKinds = [...kinds, 'collab_tool_call', 'todo_list', 'agent_message', 'reasoning']
    const item = fc.record(
      {
        id: fc.string(),
        type: fc.constantFrom(...itemKinds, 'error'),
        text: fc.anything(),
        command: fc.anything(),
        changes: fc.oneof(fc.anything(), fc.array(fc.dictionary(fc.string(), fc.anything()))),
        items: fc.oneof(fc.anything(), fc.array(fc.dictionary(fc.string(), fc.anything()))),
        result: fc.anything(),
        error: fc.anything(),
        status: fc.oneof(fc.anything(), fc.constantFrom('completed', 'failed')),
        agents_states: fc.anything(),
        query: fc.anything(),
        action: fc.anything(),
      },
      { requiredKeys: ['id', 'type'] },
    )
    const line = fc.record(
      { type: fc.constantFrom(...types, 'error', 'thread.started', 'turn.failed'), item },
      { requiredKeys: ['type'] },
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(line, fc.object())), (lines) => {
        const turn: Record<string, unknown> = {}
        for (const l of lines) {
          // agentUpdates throws when the hook throws or breaks the schema.
          const json = JSON.parse(JSON.stringify(l)) as Json
          if (typeof json === 'object' && json !== null) agentUpdates(codex, json, turn)
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('shownCommand', () => {
  it('unwraps Codex’s shell wrapper, single- or double-quoted', () => {
    expect(shownCommand("/bin/bash -lc 'ls -la'")).toBe('ls -la')
    expect(shownCommand('/bin/bash -lc "echo \\"it\'s\\" \\$HOME"')).toBe('echo "it\'s" $HOME')
    expect(shownCommand('bash -c \'echo "hi"\'')).toBe('echo "hi"')
    expect(shownCommand('python3 x.py')).toBe('python3 x.py')
    expect(shownCommand("/bin/bash -lc 'a' 'b'")).toBe("/bin/bash -lc 'a' 'b'")
  })
})
