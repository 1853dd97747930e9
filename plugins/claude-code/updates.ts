import {
  obj,
  str,
  type AgentUpdateInput,
  type Json,
  type UpdatesHook,
} from 'workers-spawner/plugin'
import { planOf, type Tasks } from './plan.ts'
import { errorMessage, resultUsage, type Result } from './result.ts'
import { toolCall, toolResult, type ToolUse } from './tools.ts'

/**
 * Claude Code's stream-json lines as ACP session updates (the shapes are the Agent SDK's
 * messages, whose zod schemas the CLI bundles):
 * - `assistant`: one content block of a model message once it is complete (`text`, `thinking`,
 *   `tool_use`), with the message's `id`;
 * - `stream_event` (only with `--include-partial-messages`, which the plugin adds when the
 *   caller streams): the Messages API's own events, text and thinking token by token; the
 *   complete block still follows as an `assistant` line, which then says nothing new;
 * - `user`: the results of tool calls (`tool_result` blocks, the tool's output object beside
 *   them as `tool_use_result`);
 * - `result`: the end of the run, with its usage, cost and how it stopped.
 * Lines of a sub-agent (`parent_tool_use_id` set) give their tool calls only: what a sub-agent
 * says is not the reply, it comes back as the result of the `Agent` tool call.
 */

/** What a turn remembers across its lines. */
interface TurnState {
  /** Messages whose text and thinking came as stream events already. */
  streamed: Set<string>
  /** The message being streamed, for events without `api_message_id`. */
  message?: string
  /** Tool calls sent and not yet finished, by id. */
  tools: Map<string, ToolUse>
  /** The todo list, once the turn knows all of it (see plan.ts). */
  tasks?: Tasks
  /** Whether any of the agent's text was sent. */
  said?: boolean
  ended?: boolean
}

const stateOf = (turn: Record<string, unknown>): TurnState =>
  (turn.claudeCode ??= { streamed: new Set(), tools: new Map() }) as TurnState

const say = (text: string): AgentUpdateInput => ({
  sessionUpdate: 'agent_message_chunk',
  content: { type: 'text', text },
})

const think = (text: string): AgentUpdateInput => ({
  sessionUpdate: 'agent_thought_chunk',
  content: { type: 'text', text },
})

const blocksOf = (message: unknown): Json[] => {
  const content = obj(message).content
  return Array.isArray(content) ? content.map(obj) : []
}

/** A text or thinking delta of the main agent's model stream. */
const streamed = (s: TurnState, line: Json): AgentUpdateInput[] => {
  const event = obj(line.event)
  if (event.type === 'message_start') s.message = str(obj(event.message).id)
  if (event.type !== 'content_block_delta' || line.parent_tool_use_id) return []
  const delta = obj(event.delta)
  const [text, thinking] = [str(delta.text), str(delta.thinking)]
  const message = str(line.api_message_id) ?? s.message
  const update =
    delta.type === 'text_delta' && text
      ? say(text)
      : delta.type === 'thinking_delta' && thinking
        ? think(thinking)
        : undefined
  if (!update) return []
  if (message !== undefined) s.streamed.add(message)
  return [update]
}

/**
 * A complete content block: a tool call always; text and thinking unless streamed already,
 * said by a sub-agent, or an API error Claude Code words as a message (the result line that
 * follows reports it as the failure it is).
 */
const said = (s: TurnState, line: Json): AgentUpdateInput[] => {
  const id = str(obj(line.message).id)
  const quiet =
    Boolean(line.parent_tool_use_id) ||
    line.is_api_error_message === true ||
    line.error !== undefined ||
    (id !== undefined && s.streamed.has(id))
  return blocksOf(line.message).flatMap((b): AgentUpdateInput[] => {
    if (b.type === 'tool_use') {
      const [callId, name] = [str(b.id), str(b.name)]
      if (!callId || !name || s.tools.has(callId)) return []
      const use = { name, input: obj(b.input) }
      s.tools.set(callId, use)
      return [toolCall(callId, use)]
    }
    const [text, thinking] = [str(b.text), str(b.thinking)]
    if (quiet) return []
    if (b.type === 'text' && text) return [say(text)]
    if (b.type === 'thinking' && thinking) return [think(thinking)]
    return []
  })
}

/** Tool results, each for a call the turn has seen; a todo tool's also as the plan. */
const results = (s: TurnState, line: Json): AgentUpdateInput[] => {
  const blocks = blocksOf(line.message).filter((b) => b.type === 'tool_result')
  // The tool's output object belongs to the line; with one result per line, to that result.
  const output = blocks.length === 1 ? line.tool_use_result : undefined
  return blocks.flatMap((b) => {
    const id = str(b.tool_use_id)
    const use = id === undefined ? undefined : s.tools.get(id)
    if (id === undefined || !use) return []
    s.tools.delete(id)
    const done = toolResult(id, use, b, output)
    return b.is_error === true ? [done] : [done, ...planOf(s, use, output)]
  })
}

/** How a run stopped, in ACP's words; none for a failure that is only that. */
const stopReason = (r: Result) => {
  if (r.subtype === 'error_max_turns' || r.terminal_reason === 'max_turns') {
    return 'max_turn_requests'
  }
  if (r.terminal_reason === 'aborted_streaming' || r.terminal_reason === 'aborted_tools') {
    return 'cancelled'
  }
  if (r.stop_reason === 'refusal') return 'refusal'
  if (r.stop_reason === 'max_tokens' || r.api_error === 'max_output_tokens') return 'max_tokens'
  return r.is_error === true ? undefined : 'end_turn'
}

/**
 * The end of the run: the reply, when no line said it (`--output-format json` prints only this
 * one); its usage (as `parse` reports it), the failure it reports (in `parse`'s words), and the
 * turn's end when it stopped in a way ACP names. Nothing follows it.
 */
const ended = (s: TurnState, r: Result): AgentUpdateInput[] => {
  s.ended = true
  const stop = stopReason(r)
  const sessionId = str(r.session_id)
  const reply = r.is_error !== true && !s.said ? str(r.result) : undefined
  return [
    ...(reply ? [say(reply)] : []),
    { sessionUpdate: 'usage_update', ...resultUsage(r) },
    ...(r.is_error === true ? [{ sessionUpdate: 'error', message: errorMessage(r) } as const] : []),
    ...(stop
      ? [
          {
            sessionUpdate: 'turn_end',
            stopReason: stop,
            ...(sessionId ? { sessionId } : {}),
          } as const,
        ]
      : []),
  ]
}

/** The updates one line of `claude -p --output-format stream-json --verbose` stands for. */
export const updates: UpdatesHook = (line, turn) => {
  const s = stateOf(turn)
  if (s.ended) return []
  const out =
    line.type === 'stream_event'
      ? streamed(s, line)
      : line.type === 'assistant'
        ? said(s, line)
        : line.type === 'user'
          ? results(s, line)
          : line.type === 'result'
            ? ended(s, line as Result)
            : []
  s.said ||= out.some((u) => u.sessionUpdate === 'agent_message_chunk')
  return out
}
