import { num, obj, str } from 'workers-spawner/plugin'
import type { AgentUpdateInput, Json, UpdatesHook } from 'workers-spawner/plugin'

/**
 * opencode's `run --format json` lines as ACP session updates. opencode prints a part when it is
 * done, never token by token: `text` and `reasoning` (with `--thinking`) once finished,
 * `tool_use` once the tool completed or failed, and `step_start`/`step_finish` around each
 * model call, `error` for a failure. Each line is `{ type, timestamp, sessionID, part | error }`.
 * Kinds, locations and stop reasons follow opencode's own ACP agent (`opencode acp`).
 */

/** Longest tool output sent as text; the rest is cut, with a marker saying how much. */
export const MAX_TOOL_TEXT = 8 * 1024

/** Tokens and cost of a run's steps, summed: opencode counts cached prompt tokens apart. */
export interface StepSum {
  input: number
  output: number
  read: number
  write: number
  cost: number
}

/** Nothing yet. */
export const noSteps = (): StepSum => ({ input: 0, output: 0, read: 0, write: 0, cost: 0 })

/** Adds a `step_finish` part's tokens and cost to `sum`; returns it. */
export const addStep = (sum: StepSum, part: Json): StepSum => {
  const tokens = obj(part.tokens)
  const cache = obj(tokens.cache)
  sum.input += num(tokens.input)
  sum.output += num(tokens.output) + num(tokens.reasoning)
  sum.read += num(cache.read)
  sum.write += num(cache.write)
  sum.cost += num(part.cost)
  return sum
}

/** A run's usage from its steps: every prompt token billed (cached too), reasoning as output. */
export const usageOf = ({ input, output, read, write, cost }: StepSum) => ({
  inputTokens: input + read + write,
  outputTokens: output,
  cacheReadInputTokens: read,
  cacheWriteInputTokens: write,
  costUsd: cost,
})

/** What an `error` line's error says: `<name>: <message>`. */
export const errorText = (error: Json) =>
  `${str(error.name) ?? 'error'}: ${str(obj(error.data).message) ?? 'no message'}`

/** What a turn remembers across its lines. */
interface TurnState {
  /** The message whose text was sent last: parts of one message are joined like `parse` does. */
  textMessage?: string
  ended?: boolean
  usage: StepSum
}

type Priority = 'high' | 'medium' | 'low'

/** `record[key]` when the record itself holds it (never `constructor` and the like). */
const own = <T>(record: Record<string, T>, key: string | undefined): T | undefined =>
  key !== undefined && Object.hasOwn(record, key) ? record[key] : undefined

const stateOf = (turn: Record<string, unknown>): TurnState =>
  (turn.opencode ??= { usage: noSteps() }) as TurnState

/** ACP's kind for an opencode tool, as `opencode acp` maps them. */
const KINDS: Record<string, 'execute' | 'fetch' | 'edit' | 'search' | 'read' | 'think'> = {
  bash: 'execute',
  webfetch: 'fetch',
  edit: 'edit',
  apply_patch: 'edit',
  write: 'edit',
  grep: 'search',
  glob: 'search',
  websearch: 'search',
  codesearch: 'search',
  read: 'read',
  task: 'think',
}

const firstLine = (text: string, max = 120) => {
  const line = text.split('\n')[0]!.trim()
  return line.length > max || text.includes('\n') ? `${line.slice(0, max)}…` : line
}

/** A readable line for a tool call: what it runs, reads or changes. */
const titleOf = (tool: string, input: Json, stateTitle: string | undefined): string => {
  const [path, pattern] = [str(input.filePath), str(input.pattern)]
  const where = str(input.path) ? ` in ${input.path}` : ''
  const said: Record<string, string | undefined> = {
    bash: str(input.command) && `Run: ${firstLine(str(input.command)!)}`,
    read: path && `Read ${path}`,
    write: path && `Write ${path}`,
    edit: path && `Edit ${path}`,
    glob: pattern && `Find ${pattern}${where}`,
    grep: pattern && `Search ${pattern}${where}`,
    webfetch: str(input.url) && `Fetch ${input.url}`,
    websearch: str(input.query) && `Search the web: ${input.query}`,
    task: str(input.description) && `Task: ${input.description}`,
    todowrite: 'Update the plan',
    skill: str(input.name) && `Skill: ${input.name}`,
  }
  return own(said, tool) ?? (stateTitle ? `${tool}: ${firstLine(stateTitle)}` : tool)
}

/** The files a tool call touches, where its input names them. */
const locationsOf = (tool: string, input: Json) => {
  const path =
    tool === 'read' || tool === 'edit' || tool === 'write'
      ? str(input.filePath)
      : tool === 'grep' || tool === 'glob'
        ? str(input.path)
        : tool === 'bash'
          ? str(input.workdir)
          : undefined
  return path ? { locations: [{ path }] } : {}
}

const cut = (text: string) =>
  text.length > MAX_TOOL_TEXT
    ? `${text.slice(0, MAX_TOOL_TEXT)}\n… [${text.length - MAX_TOOL_TEXT} more characters cut]`
    : text

const small = (value: unknown) => {
  try {
    return JSON.stringify(value).length <= MAX_TOOL_TEXT ? { rawOutput: value } : {}
  } catch {
    return {}
  }
}

/** A file's change as ACP's diff, when it is known and small: an edit, or a new file written. */
const diffOf = (tool: string, input: Json, metadata: Json) => {
  const path = str(input.filePath)
  const [oldText, newText] =
    tool === 'edit'
      ? [str(input.oldString), str(input.newString)]
      : tool === 'write' && metadata.exists === false
        ? [null, str(input.content)]
        : []
  if (!path || oldText === undefined || newText === undefined) return []
  if ((oldText?.length ?? 0) + newText.length > MAX_TOOL_TEXT) return []
  return [{ type: 'diff' as const, path, oldText, newText }]
}

const PLAN_STATUS: Record<string, 'pending' | 'in_progress' | 'completed'> = {
  pending: 'pending',
  in_progress: 'in_progress',
  completed: 'completed',
  // As `opencode acp` shows it: no longer to do.
  cancelled: 'completed',
}

/** A `todowrite` call's list as ACP's plan; none when an entry does not read as a todo. */
const planOf = (input: Json): AgentUpdateInput[] => {
  const todos = Array.isArray(input.todos) ? input.todos.map(obj) : []
  const entries = todos.flatMap((t) => {
    const [content, status] = [str(t.content), own(PLAN_STATUS, str(t.status))]
    const priority: Priority = t.priority === 'high' || t.priority === 'low' ? t.priority : 'medium'
    return content && status ? [{ content, priority, status }] : []
  })
  return todos.length && entries.length === todos.length ? [{ sessionUpdate: 'plan', entries }] : []
}

const toolUpdates = (part: Json): AgentUpdateInput[] => {
  const [id, tool, state] = [str(part.callID), str(part.tool), obj(part.state)]
  if (!id || !tool || (state.status !== 'completed' && state.status !== 'error')) return []
  const input = obj(state.input)
  const call: AgentUpdateInput = {
    sessionUpdate: 'tool_call',
    toolCallId: id,
    title: titleOf(tool, input, str(state.title)),
    kind: own(KINDS, tool) ?? 'other',
    status: 'in_progress',
    rawInput: state.input,
    ...locationsOf(tool, input),
  }
  if (state.status === 'error') {
    const error = str(state.error) ?? 'failed'
    const failed: AgentUpdateInput = {
      sessionUpdate: 'tool_call_update',
      toolCallId: id,
      status: 'failed',
      content: [{ type: 'content', content: { type: 'text', text: cut(error) } }],
      ...small({ error, ...(state.metadata ? { metadata: state.metadata } : {}) }),
    }
    return [call, failed]
  }
  const output = str(state.output) ?? ''
  const text = { type: 'content' as const, content: { type: 'text', text: cut(output) } }
  const done: AgentUpdateInput = {
    sessionUpdate: 'tool_call_update',
    toolCallId: id,
    status: 'completed',
    content: [text, ...diffOf(tool, input, obj(state.metadata))],
    ...small({ output, ...(state.metadata ? { metadata: state.metadata } : {}) }),
  }
  return [call, done, ...(tool === 'todowrite' ? planOf(input) : [])]
}

/** How opencode's ACP agent reads an error: some are how a turn stopped. */
const STOPPED_BY: Record<string, 'cancelled' | 'max_tokens' | 'refusal'> = {
  MessageAbortedError: 'cancelled',
  MessageOutputLengthError: 'max_tokens',
  ContentFilterError: 'refusal',
}

/** The turn's usage and its end, once. */
const end = (
  s: TurnState,
  stopReason: 'end_turn' | 'max_tokens' | 'cancelled' | 'refusal',
  sessionId: string | undefined,
): AgentUpdateInput[] => {
  if (s.ended) return []
  s.ended = true
  const { cacheWriteInputTokens, ...usage } = usageOf(s.usage)
  return [
    { sessionUpdate: 'usage_update', ...usage, cacheCreationInputTokens: cacheWriteInputTokens },
    { sessionUpdate: 'turn_end', stopReason, ...(sessionId ? { sessionId } : {}) },
  ]
}

/** The steps that end a turn: opencode's loop goes on after `tool-calls` and `unknown`. */
const stepFinished = (s: TurnState, part: Json, sessionId: string | undefined) => {
  addStep(s.usage, part)
  const reason = str(part.reason)
  // A filtered answer is followed by its ContentFilterError line, which ends the turn.
  if (reason === 'tool-calls' || reason === 'unknown' || reason === 'content-filter') return []
  return end(s, reason === 'length' ? 'max_tokens' : 'end_turn', sessionId)
}

/** The updates one line of `opencode run --format json` stands for. */
export const updates: UpdatesHook = (line, turn) => {
  const s = stateOf(turn)
  const part = obj(line.part)
  const sessionId = str(line.sessionID)
  switch (line.type) {
    case 'text': {
      const [text, message] = [str(part.text), str(part.messageID)]
      if (!text) return []
      // `parse` joins a message's text parts with a blank line: the chunks say the same.
      const joined = message !== undefined && s.textMessage === message ? `\n\n${text}` : text
      s.textMessage = message
      return [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: joined } }]
    }
    case 'reasoning': {
      const text = str(part.text)
      return text ? [{ sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text } }] : []
    }
    case 'tool_use':
      return toolUpdates(part)
    case 'step_finish':
      return stepFinished(s, part, sessionId)
    case 'error': {
      const error = obj(line.error)
      const stopped = own(STOPPED_BY, str(error.name))
      const said: AgentUpdateInput = { sessionUpdate: 'error', message: errorText(error) }
      return [said, ...(stopped ? end(s, stopped, sessionId) : [])]
    }
    default:
      return []
  }
}
