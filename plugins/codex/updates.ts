import {
  obj,
  str,
  type AgentUpdateInput,
  type Json,
  type UpdatesHook,
} from 'workers-spawner/plugin'
import { toolCallEnd, toolCallInfo } from './tools.ts'
import { isPriorTotal, promptTokens } from './usage.ts'

/**
 * `codex exec --json` lines as ACP session updates. Codex never streams text in this mode: an
 * `agent_message` or `reasoning` item arrives whole, once, on `item.completed`, and is sent
 * whole. A tool item (`item.started` … `item.completed`, same id) is a `tool_call`, then a
 * `tool_call_update`; the `todo_list` item is the plan; `turn.completed` gives the usage and
 * ends the turn; `error` lines and `turn.failed` are errors. What Codex keeps to itself
 * (reasoning it does not summarize, the stop reason, an interrupted turn) nothing can show.
 */

type Said = 'agent_message_chunk' | 'agent_thought_chunk'

/** What the hook remembers across one prompt's lines. */
interface TurnState {
  /** `thread.started`'s id, for `turn_end`. */
  sessionId?: string
  /** RUN_SCRIPT's `token_count` record: the thread's total before this prompt. */
  before?: Json
  /** Each tool call already announced, by id, with the title it was given. */
  tools?: Record<string, string>
  /** The last plan sent, as JSON: a `todo_list` item repeats itself at the end of a turn. */
  plan?: string
  /** The last error sent: `turn.failed` repeats the `error` line before it. */
  error?: string
  /** The kinds of text already sent (a message, a reasoning summary): the next starts apart. */
  said?: Partial<Record<Said, true>>
  ended?: boolean
}

/** A to-do item as a plan entry: Codex tells done from not done, nothing else. */
const entry = (todo: unknown) => {
  const { text, completed } = obj(todo)
  return {
    content: str(text) ?? '',
    priority: 'medium' as const,
    status: completed === true ? ('completed' as const) : ('pending' as const),
  }
}

/**
 * A whole text (an agent message or a reasoning summary). Codex may say several in a turn (a
 * word before a tool call, then the answer); a client that appends chunks would run them
 * together, so each after the first starts on a paragraph of its own. The message chunks of a
 * turn are thus its messages joined by a blank line: with one message, `parse`'s reply.
 */
const said = (t: TurnState, sessionUpdate: Said, text: string | undefined): AgentUpdateInput[] => {
  if (!text) return []
  const sent = (t.said ??= {})
  const apart = sent[sessionUpdate] ? '\n\n' : ''
  sent[sessionUpdate] = true
  return [{ sessionUpdate, content: { type: 'text', text: `${apart}${text}` } }]
}

const tool = (t: TurnState, event: string, item: Json): AgentUpdateInput[] => {
  const info = toolCallInfo(item)
  const toolCallId = str(item.id)
  if (!info || !toolCallId) return []
  const tools = (t.tools ??= {})
  const known = Object.hasOwn(tools, toolCallId)
  const retitled = known && tools[toolCallId] !== info.title
  tools[toolCallId] = info.title
  // An item seen first when it is already done (Codex reports some only then) still opens.
  const open: AgentUpdateInput[] = known
    ? []
    : [{ sessionUpdate: 'tool_call', toolCallId, status: 'in_progress', ...info }]
  // A title, input or files learnt later (a search's query, a patch's files) go along.
  const fresh = retitled || event === 'item.updated' ? info : {}
  if (event === 'item.completed') {
    return [
      ...open,
      { sessionUpdate: 'tool_call_update', toolCallId, ...fresh, ...toolCallEnd(item) },
    ]
  }
  if (!known) return open
  return [{ sessionUpdate: 'tool_call_update', toolCallId, status: 'in_progress', ...fresh }]
}

const item = (t: TurnState, event: string, it: Json): AgentUpdateInput[] => {
  const done = event === 'item.completed'
  switch (it.type) {
    case 'agent_message':
      return done ? said(t, 'agent_message_chunk', str(it.text)) : []
    case 'reasoning':
      return done ? said(t, 'agent_thought_chunk', str(it.text)) : []
    case 'todo_list': {
      const entries = (Array.isArray(it.items) ? it.items : []).map(entry)
      const plan = JSON.stringify(entries)
      if (plan === t.plan) return []
      t.plan = plan
      return [{ sessionUpdate: 'plan', entries }]
    }
    case 'error':
      // A warning Codex goes on after (a config or deprecation notice, a rerouted model).
      return done && str(it.message) ? [{ sessionUpdate: 'error', message: str(it.message)! }] : []
    default:
      return tool(t, event, it)
  }
}

const line = (t: TurnState, l: Json): AgentUpdateInput[] => {
  switch (l.type) {
    case 'thread.started':
      t.sessionId = str(l.thread_id)
      return []
    case 'item.started':
    case 'item.updated':
    case 'item.completed':
      return item(t, l.type, obj(l.item))
    case 'error': {
      const message = str(l.message)
      if (!message) return []
      t.error = message
      return [{ sessionUpdate: 'error', message }]
    }
    case 'turn.failed': {
      const message = str(obj(l.error).message) ?? 'codex turn failed'
      return message === t.error ? [] : [{ sessionUpdate: 'error', message }]
    }
    case 'turn.completed': {
      t.ended = true
      const d = promptTokens(l, t.before)
      const usage: AgentUpdateInput = {
        sessionUpdate: 'usage_update',
        inputTokens: d('input'),
        outputTokens: d('output'),
        cacheReadInputTokens: d('cached_input'),
        cacheCreationInputTokens: d('cache_write_input'),
      }
      const sessionId = t.sessionId ? { sessionId: t.sessionId } : {}
      return [usage, { sessionUpdate: 'turn_end', stopReason: 'end_turn', ...sessionId }]
    }
    default:
      if (isPriorTotal(l)) t.before = l
      return []
  }
}

/** Codex's `exec --json` lines as ACP session updates (see above). */
export const updates: UpdatesHook = (l, turn) => {
  const t = turn as TurnState
  // Codex stops after the turn's end; anything later would follow the turn_end.
  if (t.ended) return []
  return line(t, l)
}
