import { describe, expect, it } from 'vitest'
import {
  agentReply,
  agentUpdates,
  agentUpdateSchema,
  jsonLines,
  type AgentUpdate,
  type ExecOutcome,
} from 'workers-spawner/plugin'
import gemini from './index.ts'
import { MAX_TOOL_TEXT_BYTES } from './updates.ts'
import {
  PLAIN_SUM,
  PLAIN_TOOLS,
  STREAMED_BIG,
  STREAMED_CHUNKS,
  STREAMED_DEAD,
  STREAMED_SAFETY,
  STREAMED_TOOLS,
} from './updates.fixtures.ts'

/** A run's stdout through the hook as the core feeds it: each JSON-object line, one turn. */
const updatesOf = (stdout: string): AgentUpdate[] => {
  const turn = {}
  return jsonLines(stdout).flatMap((line) => agentUpdates(gemini, line, turn))
}

/** Lines the CLI could write, one turn, as the core calls the hook. */
const feed = (...lines: Record<string, unknown>[]): AgentUpdate[] => {
  const turn = {}
  return lines.flatMap((line) => agentUpdates(gemini, line, turn))
}

const reply = (stdout: string, exitCode = 0) =>
  agentReply(gemini, {
    exitCode,
    stdout,
    stderr: '',
    timedOut: false,
    durationMs: 1,
  } as ExecOutcome)

const said = (updates: AgentUpdate[]) =>
  updates.flatMap((u) =>
    u.sessionUpdate === 'agent_message_chunk' && u.content.type === 'text' ? [u.content.text] : [],
  )

const of = <K extends AgentUpdate['sessionUpdate']>(updates: AgentUpdate[], kind: K) =>
  updates.filter((u): u is Extract<AgentUpdate, { sessionUpdate: K }> => u.sessionUpdate === kind)

const SUCCESSES = { PLAIN_SUM, STREAMED_CHUNKS, PLAIN_TOOLS, STREAMED_TOOLS, STREAMED_BIG }

describe('gemini-cli updates on real runs', () => {
  it.each(Object.entries(SUCCESSES))('%s: valid, ended once, last, as parse reads it', (_, out) => {
    const updates = updatesOf(out)
    for (const u of updates) expect(agentUpdateSchema.safeParse(u).success).toBe(true)
    const r = reply(out)
    const ends = of(updates, 'turn_end')
    expect(ends).toEqual([
      { sessionUpdate: 'turn_end', stopReason: 'end_turn', sessionId: r.sessionId },
    ])
    expect(updates.at(-1)).toBe(ends[0])
    expect(of(updates, 'error')).toEqual([])
    const [usage] = of(updates, 'usage_update')
    expect(usage).toEqual({
      sessionUpdate: 'usage_update',
      inputTokens: r.usage!.inputTokens,
      outputTokens: r.usage!.outputTokens,
      cacheReadInputTokens: r.usage!.cachedInputTokens,
    })
    // The reply is the text after the last tool call; every delta is sent once, as it comes.
    const lastTool = updates.findLastIndex((u) => u.sessionUpdate.startsWith('tool_call'))
    expect(said(updates.slice(lastTool + 1)).join('')).toBe(r.text)
    const assistant = jsonLines(out).filter((l) => l.type === 'message' && l.role === 'assistant')
    expect(said(updates)).toEqual(assistant.map((l) => l.content))
  })

  it('sends the text of a run without tools as its deltas, which join to the reply', () => {
    expect(said(updatesOf(PLAIN_SUM))).toEqual(['12'])
    expect(said(updatesOf(STREAMED_CHUNKS))).toEqual(['The answer', ' is ', '42.'])
    expect(said(updatesOf(STREAMED_CHUNKS)).join('')).toBe(reply(STREAMED_CHUNKS).text)
    // The model's thought part reached the CLI, which shows none.
    expect(of(updatesOf(STREAMED_CHUNKS), 'agent_thought_chunk')).toEqual([])
  })

  it('says the text before the tool calls too, though the reply is the last turn only', () => {
    const updates = updatesOf(STREAMED_TOOLS)
    expect(said(updates).join('')).toBe('Let me look around first.Done: the workspace is listed.')
    expect(reply(STREAMED_TOOLS).text).toBe('Done: the workspace is listed.')
  })

  it.each([PLAIN_TOOLS, STREAMED_TOOLS])('pairs each tool call with its result', (out) => {
    const updates = updatesOf(out)
    const calls = of(updates, 'tool_call')
    const results = of(updates, 'tool_call_update')
    expect(calls).toHaveLength(8)
    expect(results.map((u) => u.toolCallId)).toEqual(calls.map((c) => c.toolCallId))
    for (const c of calls) {
      const call = updates.indexOf(c)
      const done = updates.findIndex(
        (u) => u.sessionUpdate === 'tool_call_update' && u.toolCallId === c.toolCallId,
      )
      expect(done).toBeGreaterThan(call)
      expect(c.status).toBe('in_progress')
    }
    expect(calls.map((c) => [c.title, c.kind])).toEqual([
      ['Update plan', 'other'],
      ['Run: ls -la /workspace', 'execute'],
      ['Read /workspace/notes.txt', 'read'],
      ['Write /workspace/hello.txt', 'edit'],
      ['Edit /workspace/hello.txt', 'edit'],
      ['Find **/*.txt', 'search'],
      ['Search hello', 'search'],
      ['List /workspace', 'search'],
    ])
    expect(results.map((r) => r.status)).toEqual([
      'completed',
      'completed',
      'failed',
      'completed',
      'completed',
      'completed',
      'completed',
      'completed',
    ])
  })

  it('gives input, files, diffs and output as the CLI wrote them', () => {
    const updates = updatesOf(STREAMED_TOOLS)
    const [todos, shell, read, write, edit] = of(updates, 'tool_call')
    const [, shellDone, readDone, writeDone] = of(updates, 'tool_call_update')
    expect(shell!.rawInput).toEqual({
      command: 'ls -la /workspace',
      description: 'List the workspace',
    })
    expect(read!.locations).toEqual([{ path: '/workspace/notes.txt' }])
    expect(write!.content).toEqual([
      { type: 'diff', path: '/workspace/hello.txt', newText: 'hello\n' },
    ])
    expect(edit!.content).toEqual([
      { type: 'diff', path: '/workspace/hello.txt', oldText: 'hello', newText: 'hello world' },
    ])
    const text = (u: typeof shellDone) =>
      u!.content?.map((c) => (c.type === 'content' ? c.content : undefined))
    expect(text(shellDone)?.[0]).toMatchObject({
      type: 'text',
      text: expect.stringMatching(/^total 12\n/),
    })
    expect(shellDone!.rawOutput).toMatchObject({ output: expect.stringContaining('hello.txt') })
    // A failed call says its error; the CLI's shorter display of it stays in rawOutput.
    expect(text(readDone)).toEqual([{ type: 'text', text: 'File not found: /workspace/notes.txt' }])
    expect(readDone!.rawOutput).toEqual({
      output: 'File not found.',
      error: { type: 'file_not_found', message: 'File not found: /workspace/notes.txt' },
    })
    // A write reports no output.
    expect(writeDone).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: write!.toolCallId,
      status: 'completed',
    })
    // The todo list is the plan; the cancelled item is no longer part of it.
    const planned = updates.indexOf(todos!) + 1
    expect(updates[planned]).toEqual({
      sessionUpdate: 'plan',
      entries: [
        { content: 'List the workspace', priority: 'medium', status: 'in_progress' },
        { content: 'Read notes.txt', priority: 'medium', status: 'pending' },
      ],
    })
  })

  it('cuts a long tool output to 8 KiB, with a marker, and leaves out rawOutput', () => {
    const [done] = of(updatesOf(STREAMED_BIG), 'tool_call_update')
    const c = done!.content![0]!
    const text = c.type === 'content' && c.content.type === 'text' ? String(c.content.text) : ''
    expect(text.startsWith('1\n2\n3\n')).toBe(true)
    expect(text).toMatch(/\n… \[\d+ more bytes cut\]$/)
    const kept = text.slice(0, text.lastIndexOf('\n…'))
    expect(new TextEncoder().encode(kept).length).toBeLessThanOrEqual(MAX_TOOL_TEXT_BYTES)
    expect(done!.rawOutput).toBeUndefined()
  })

  it('a blocked answer: the error, usage, and the turn ended as a refusal', () => {
    const updates = updatesOf(STREAMED_SAFETY)
    expect(updates).toEqual([
      { sessionUpdate: 'error', message: 'The model response was blocked due to safety settings.' },
      { sessionUpdate: 'usage_update', inputTokens: 30, outputTokens: 0, cacheReadInputTokens: 0 },
      {
        sessionUpdate: 'turn_end',
        stopReason: 'refusal',
        sessionId: '0efb9b06-0c75-40c3-9760-cb2a7402fe6c',
      },
    ])
    expect(() => reply(STREAMED_SAFETY)).toThrow('blocked due to safety settings')
  })

  it('a dead model endpoint: the error and usage, no turn_end', () => {
    expect(updatesOf(STREAMED_DEAD)).toEqual([
      {
        sessionUpdate: 'error',
        message: '[API Error: exception TypeError: fetch failed sending request]',
      },
      { sessionUpdate: 'usage_update', inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0 },
    ])
    expect(() => reply(STREAMED_DEAD, 1)).toThrow('fetch failed')
  })
})

// Lines not recorded, in the shapes the CLI 0.61.0 writes them: its non-interactive runner
// (`bundle/gemini-*.js`: `runNonInteractive` and `handleCancellationError`, `emitEvent` calls).
describe('gemini-cli updates from the CLI’s stream-json writer', () => {
  const init = { type: 'init', session_id: 's1', model: 'gemini-2.5-pro' }
  const stats = { total_tokens: 3, input_tokens: 2, output_tokens: 1, cached: 0, input: 2 }
  const ts = '2026-12-02T09:30:00.000Z'

  it('a turn limit reached: an error line, then a successful result', () => {
    // `agent_end` with reason max_turns and no configured limit.
    const updates = feed(
      init,
      {
        type: 'error',
        timestamp: ts,
        severity: 'error',
        message: 'Maximum session turns exceeded',
      },
      { type: 'result', timestamp: ts, status: 'success', stats },
    )
    expect(updates.map((u) => u.sessionUpdate)).toEqual(['error', 'usage_update', 'turn_end'])
    expect(updates.at(-1)).toEqual({
      sessionUpdate: 'turn_end',
      stopReason: 'max_turn_requests',
      sessionId: 's1',
    })
  })

  it('a cancelled run (SIGINT or stdin closed): cancelled', () => {
    const error = { type: 'FatalCancellationError', message: 'Operation cancelled.' }
    const updates = feed(init, { type: 'result', timestamp: ts, status: 'error', error, stats })
    expect(updates).toEqual([
      { sessionUpdate: 'error', message: 'Operation cancelled.' },
      { sessionUpdate: 'usage_update', inputTokens: 2, outputTokens: 1, cacheReadInputTokens: 0 },
      { sessionUpdate: 'turn_end', stopReason: 'cancelled', sessionId: 's1' },
    ])
  })

  it('a truncated answer (INVALID_STREAM, MAX_TOKENS_EXCEEDED): max_tokens', () => {
    const message =
      'Model response was truncated because it exceeded the token limit. Try using /compress to free up context space.'
    const updates = feed(
      init,
      { type: 'error', timestamp: ts, severity: 'error', message },
      { type: 'result', timestamp: ts, status: 'error', stats },
    )
    expect(updates.map((u) => u.sessionUpdate)).toEqual(['error', 'usage_update', 'turn_end'])
    expect(updates.at(-1)).toMatchObject({ stopReason: 'max_tokens' })
  })

  it('a warning (a retry) is no failure; an error the result repeats is said once', () => {
    const warning = { type: 'error', timestamp: ts, severity: 'warning', message: 'Retrying' }
    expect(feed(warning)).toEqual([])
    const error = { type: 'Error', message: 'quota' }
    const updates = feed(
      { type: 'error', timestamp: ts, severity: 'error', message: 'quota' },
      { type: 'result', timestamp: ts, status: 'error', error, stats },
    )
    expect(of(updates, 'error')).toEqual([{ sessionUpdate: 'error', message: 'quota' }])
    expect(of(updates, 'turn_end')).toEqual([])
  })

  it('web tools: search and fetch, titled by their query', () => {
    // Parameters as the tools' schemas name them (`query`, `prompt`).
    const [search, fetch] = of(
      feed(
        {
          type: 'tool_use',
          tool_name: 'google_web_search',
          tool_id: 'a',
          parameters: { query: 'acp' },
        },
        {
          type: 'tool_use',
          tool_name: 'web_fetch',
          tool_id: 'b',
          parameters: { prompt: 'Summarize https://example.com\nbriefly' },
        },
      ),
      'tool_call',
    )
    expect([search!.title, search!.kind]).toEqual(['Web search: acp', 'search'])
    expect([fetch!.title, fetch!.kind]).toEqual(['Fetch: Summarize https://example.com', 'fetch'])
  })

  it('a second result gives nothing: one turn_end', () => {
    const result = { type: 'result', timestamp: ts, status: 'success', stats }
    expect(of(feed(init, result, result), 'turn_end')).toHaveLength(1)
  })

  it('gives nothing for lines it does not know, and never throws', () => {
    const odd = [
      {},
      { type: 'unknown' },
      { type: 42 },
      { type: 'message', role: 'user', content: 'What is 5 + 7?' },
      { type: 'message', role: 'assistant', content: 42 },
      { type: 'message', role: 'assistant', content: '' },
      { type: 'tool_use', tool_name: 'ls' },
      { type: 'tool_result', status: 'success' },
      { type: 'error', severity: 'error' },
      { type: 'init', session_id: 7 },
    ]
    for (const line of odd) expect(feed(line)).toEqual([])
    // Odd values inside a known line still give valid updates.
    const updates = feed(
      { type: 'tool_use', tool_name: 'constructor', tool_id: 'x', parameters: 'nope' },
      {
        type: 'tool_use',
        tool_name: 'write_todos',
        tool_id: 'y',
        parameters: { todos: [1, { description: 'a', status: 'toString' }] },
      },
      {
        type: 'tool_use',
        tool_name: 'read_many_files',
        tool_id: 'z',
        parameters: { include: [{}, 'a.ts'] },
      },
      { type: 'tool_result', tool_id: 'x', status: 'weird', output: { no: 1 } },
      { type: 'result', status: 'error', stats: 'none' },
    )
    expect(updates.map((u) => u.sessionUpdate)).toEqual([
      'tool_call',
      'tool_call',
      'plan',
      'tool_call',
      'tool_call_update',
      'error',
      'usage_update',
    ])
    expect(of(updates, 'tool_call')[0]).toMatchObject({ kind: 'other', rawInput: 'nope' })
    expect(of(updates, 'plan')[0]!.entries).toEqual([])
  })
})
