import { cutText, MAX_TOOL_TEXT_BYTES, num, obj, str } from 'workers-spawner/plugin'
import type { AgentUpdateInput, Json, UpdatesHook } from 'workers-spawner/plugin'

/**
 * Gemini CLI's `--output-format stream-json` lines as the common agent updates. The CLI writes
 * `init` (the session id), `message` (the prompt as `user`, then the model's text as
 * `assistant` deltas), `tool_use` and `tool_result` (paired by `tool_id`), `error` (`severity`
 * error or warning) and one `result` (status and token counts), last. It shows no thinking and
 * names no tool's kind: kinds come from the tool's name, as the CLI's own tool classes declare
 * them.
 */

type Kind = 'read' | 'edit' | 'search' | 'execute' | 'think' | 'fetch'
type PlanStatus = 'pending' | 'in_progress' | 'completed'
type StopReason = 'max_tokens' | 'max_turn_requests' | 'refusal' | 'cancelled'

/** Tool output past this many bytes is cut (the whole line is still in the `output` events). */
export { MAX_TOOL_TEXT_BYTES }

/** The built-in tools' kinds (`other` for the rest: todos, skills, MCP tools). */
const KINDS: Record<string, Kind> = {
  run_shell_command: 'execute',
  read_file: 'read',
  read_many_files: 'read',
  read_mcp_resource: 'read',
  read_background_output: 'read',
  list_background_processes: 'read',
  write_file: 'edit',
  replace: 'edit',
  glob: 'search',
  grep_search: 'search',
  list_directory: 'search',
  google_web_search: 'search',
  list_mcp_resources: 'search',
  web_fetch: 'fetch',
  get_internal_docs: 'think',
  update_topic: 'think',
}

/** `write_todos` statuses as ACP's plan statuses: `blocked` has not started. */
const PLAN_STATUS: Record<string, PlanStatus> = {
  pending: 'pending',
  blocked: 'pending',
  in_progress: 'in_progress',
  completed: 'completed',
}

/** The CLI's fixed messages for a turn that stopped for a reason ACP names. */
const STOPS: [RegExp, StopReason][] = [
  [/^Model response was truncated because it exceeded the token limit/, 'max_tokens'],
  [/^The model response was blocked due to/, 'refusal'],
  [/^Maximum session turns exceeded|^Reached max session turns/, 'max_turn_requests'],
  [/^Operation cancelled\./, 'cancelled'],
]

/** `table[key]` when it is the table's own (a tool named `constructor` has no kind). */
const own = <T>(table: Record<string, T>, key: unknown): T | undefined =>
  typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined

const small = (v: unknown) => JSON.stringify(v).length <= MAX_TOOL_TEXT_BYTES

/** A string or strings, as a list. */
const strings = (v: unknown) => [v].flat().filter((s): s is string => typeof s === 'string')

/** A one-line title: what the call runs, reads, changes or looks for. */
const title = (name: string, p: Json, path: string | undefined): string => {
  const firstLine = (v: unknown) => (str(v) ?? '').split('\n')[0]!.slice(0, 200)
  const where = str(p.dir_path) ? ` in ${p.dir_path}` : ''
  switch (name) {
    case 'run_shell_command':
      return `Run: ${firstLine(p.command)}`
    case 'read_file':
      return `Read ${path}`
    case 'read_many_files':
      return `Read ${strings(p.include).join(', ')}`
    case 'write_file':
      return `Write ${path}`
    case 'replace':
      return `Edit ${path}`
    case 'list_directory':
      return `List ${path}`
    case 'glob':
      return `Find ${str(p.pattern)}${where}`
    case 'grep_search':
      return `Search ${str(p.pattern)}${where}`
    case 'google_web_search':
      return `Web search: ${str(p.query)}`
    case 'web_fetch':
      return `Fetch: ${firstLine(p.prompt)}`
    case 'write_todos':
      return 'Update plan'
    default:
      return name
  }
}

/** What an edit changes, as ACP's diff (the edit's old and new text), when it is small. */
const diff = (name: string, p: Json, path: string) => {
  const newText = str(name === 'replace' ? p.new_string : p.content)
  const oldText = name === 'replace' ? str(p.old_string) : undefined
  if (newText === undefined || !small([oldText, newText])) return []
  return [{ type: 'diff' as const, path, ...(oldText !== undefined ? { oldText } : {}), newText }]
}

/** `write_todos` sets the whole list: ACP's plan. A cancelled item is left out. */
const plan = (todos: unknown): AgentUpdateInput[] => {
  if (!Array.isArray(todos)) return []
  const entries = todos.flatMap((t) => {
    const { description, status } = obj(t)
    const s = own(PLAN_STATUS, status)
    if (typeof description !== 'string' || !s) return []
    return [{ content: description, priority: 'medium' as const, status: s }]
  })
  return [{ sessionUpdate: 'plan', entries }]
}

const toolUse = (line: Json): AgentUpdateInput[] => {
  const id = str(line.tool_id)
  if (!id) return []
  const name = str(line.tool_name) ?? 'tool'
  const p = obj(line.parameters)
  const path = str(p.file_path) ?? (name === 'list_directory' ? str(p.dir_path) : undefined)
  const at = typeof p.start_line === 'number' ? { line: p.start_line } : {}
  const edit = path && (name === 'replace' || name === 'write_file') ? diff(name, p, path) : []
  const call: AgentUpdateInput = {
    sessionUpdate: 'tool_call',
    toolCallId: id,
    title: title(name, p, path),
    kind: own(KINDS, name) ?? 'other',
    // Every call is approved (`--approval-mode=yolo`): it runs as soon as it is asked for.
    status: 'in_progress',
    rawInput: line.parameters ?? {},
    ...(path ? { locations: [{ path, ...at }] } : {}),
    ...(edit.length ? { content: edit } : {}),
  }
  return name === 'write_todos' ? [call, ...plan(p.todos)] : [call]
}

/** A failed call's text is its error (the output is a shorter display of it). */
const toolResult = (line: Json): AgentUpdateInput[] => {
  const id = str(line.tool_id)
  if (!id) return []
  const failed = line.status !== 'success'
  const text = (failed ? str(obj(line.error).message) : undefined) ?? str(line.output)
  const raw = failed ? { output: line.output, error: line.error } : { output: line.output }
  const told = line.output !== undefined || line.error !== undefined
  const content = [
    { type: 'content' as const, content: { type: 'text', text: cutText(text ?? '') } },
  ]
  return [
    {
      sessionUpdate: 'tool_call_update',
      toolCallId: id,
      status: failed ? 'failed' : 'completed',
      ...(text ? { content } : {}),
      ...(told && small(raw) ? { rawOutput: raw } : {}),
    },
  ]
}

/** What `turn` keeps across a prompt's lines. */
interface Turn {
  sessionId?: string
  /** Error messages already sent, so the result does not repeat them. */
  said?: string[]
  /** A stop reason an error named. */
  stop?: StopReason
  ended?: boolean
}

const failure = (message: string, turn: Turn): AgentUpdateInput[] => {
  turn.stop ??= STOPS.find(([re]) => re.test(message))?.[1]
  if (turn.said?.includes(message)) return []
  ;(turn.said ??= []).push(message)
  return [{ sessionUpdate: 'error', message }]
}

/**
 * The `result` line: the failure if any, usage, then the turn's end. A failed run has no
 * `turn_end`, unless the CLI said the turn stopped for a reason ACP names (a refusal, the token
 * or turn limit, a cancel). A blocked or empty answer had its message in an `error` line.
 */
const result = (line: Json, turn: Turn): AgentUpdateInput[] => {
  if (turn.ended) return []
  turn.ended = true
  const ok = line.status === 'success'
  const message =
    str(obj(line.error).message) ?? (turn.said ? undefined : 'gemini failed without saying why')
  const out = !ok && message ? failure(message, turn) : []
  if (line.stats !== undefined) {
    const s = obj(line.stats)
    out.push({
      sessionUpdate: 'usage_update',
      inputTokens: num(s.input_tokens),
      outputTokens: num(s.output_tokens),
      cacheReadInputTokens: num(s.cached),
    })
  }
  if (!ok && !turn.stop) return out
  const sessionId = turn.sessionId ? { sessionId: turn.sessionId } : {}
  return [...out, { sessionUpdate: 'turn_end', stopReason: turn.stop ?? 'end_turn', ...sessionId }]
}

/** One stream-json line of Gemini CLI as agent updates; any other line gives none. */
export const updates: UpdatesHook = (line, state) => {
  const turn = state as Turn
  switch (line.type) {
    case 'init':
      turn.sessionId = str(line.session_id) ?? turn.sessionId
      return []
    case 'message': {
      // Always deltas, never the whole message again: each is sent as it comes.
      const text = str(line.content)
      return line.role === 'assistant' && text
        ? [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text } }]
        : []
    }
    case 'tool_use':
      return toolUse(line)
    case 'tool_result':
      return toolResult(line)
    case 'error': {
      // A warning (a retry, a blocked hook) leaves the turn going.
      const message = str(line.message)
      return line.severity === 'error' && message ? failure(message, turn) : []
    }
    case 'result':
      return result(line, turn)
    default:
      return []
  }
}
