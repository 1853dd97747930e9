import {
  cutText,
  MAX_TOOL_TEXT_BYTES,
  obj,
  str,
  type AgentUpdateInput,
  type Json,
} from 'workers-spawner/plugin'

/**
 * Claude Code's tool calls as ACP tool calls. A call is a `tool_use` block of an assistant line
 * (`{ id, name, input }`, inputs as in the package's `sdk-tools.d.ts`); its result a
 * `tool_result` block of the next user line (`{ tool_use_id, content, is_error }`), with the
 * tool's own output object beside it as `tool_use_result`. Kinds and titles follow the Claude
 * Code ACP adapter (`@zed-industries/claude-code-acp`), in the words the other plugins use.
 */

/** Longest tool output sent as text, in bytes; the rest is cut, with a marker saying how much. */
export const MAX_TOOL_TEXT = MAX_TOOL_TEXT_BYTES

/** A tool call the turn has seen and not yet seen the result of. */
export interface ToolUse {
  name: string
  input: Json
}

type Kind = 'read' | 'edit' | 'search' | 'execute' | 'think' | 'fetch' | 'switch_mode'

const KINDS: Record<string, Kind> = {
  Bash: 'execute',
  Read: 'read',
  Write: 'edit',
  Edit: 'edit',
  MultiEdit: 'edit',
  NotebookEdit: 'edit',
  Glob: 'search',
  Grep: 'search',
  ToolSearch: 'search',
  WebFetch: 'fetch',
  WebSearch: 'fetch',
  Agent: 'think',
  Task: 'think',
  TodoWrite: 'think',
  TaskCreate: 'think',
  TaskUpdate: 'think',
  TaskList: 'think',
  TaskGet: 'think',
  EnterPlanMode: 'switch_mode',
  ExitPlanMode: 'switch_mode',
}

/** `record[key]` when the record itself holds it (never `constructor` and the like). */
export const own = <T>(record: Record<string, T>, key: string | undefined): T | undefined =>
  key !== undefined && Object.hasOwn(record, key) ? record[key] : undefined

const firstLine = (text: string, max = 120) => {
  const line = text.split('\n')[0]!.trim()
  return line.length > max || text.includes('\n') ? `${line.slice(0, max)}…` : line
}

/** A readable line for a tool call: what it runs, reads, changes or looks for. */
const titleOf = (name: string, input: Json): string => {
  const [path, pattern] = [str(input.file_path) ?? str(input.notebook_path), str(input.pattern)]
  const where = str(input.path) ? ` in ${input.path}` : ''
  const task = str(input.taskId)
  const said: Record<string, string | undefined> = {
    Bash: str(input.command) && `Run: ${firstLine(str(input.command)!)}`,
    Read: path && `Read ${path}`,
    Write: path && `Write ${path}`,
    Edit: path && `Edit ${path}`,
    MultiEdit: path && `Edit ${path}`,
    NotebookEdit: path && `Edit ${path}`,
    Glob: pattern && `Find ${pattern}${where}`,
    Grep: pattern && `Search ${pattern}${where}`,
    WebFetch: str(input.url) && `Fetch ${input.url}`,
    WebSearch: str(input.query) && `Search the web: ${input.query}`,
    ToolSearch: str(input.query) && `Search tools: ${input.query}`,
    Agent: str(input.description) && `Task: ${firstLine(str(input.description)!)}`,
    Task: str(input.description) && `Task: ${firstLine(str(input.description)!)}`,
    TodoWrite: 'Update the plan',
    TaskCreate: str(input.subject) && `Add task: ${firstLine(str(input.subject)!)}`,
    TaskUpdate: task && `Update task #${task}`,
    TaskGet: task && `Read task #${task}`,
    TaskList: 'List tasks',
    Skill: str(input.skill) && `Skill: ${input.skill}`,
  }
  const mcp = /^mcp__(.+?)__(.+)$/.exec(name)
  return own(said, name) ?? (mcp ? `${mcp[2]} (${mcp[1]})` : name)
}

/** The files a tool call reads or changes, where its input names them. */
const locationsOf = (name: string, input: Json) => {
  const file = str(input.file_path) ?? str(input.notebook_path)
  const line = typeof input.offset === 'number' && name === 'Read' ? { line: input.offset } : {}
  if (file) return { locations: [{ path: file, ...line }] }
  const dir = name === 'Grep' || name === 'Glob' ? str(input.path) : undefined
  return dir ? { locations: [{ path: dir }] } : {}
}

/** The `tool_call` for a `tool_use` block: the tool runs right away (permissions skipped). */
export const toolCall = (id: string, use: ToolUse): AgentUpdateInput => ({
  sessionUpdate: 'tool_call',
  toolCallId: id,
  title: titleOf(use.name, use.input),
  kind: own(KINDS, use.name) ?? 'other',
  status: 'in_progress',
  rawInput: use.input,
  ...locationsOf(use.name, use.input),
})

const encoder = new TextEncoder()

/** `text`, cut to MAX_TOOL_TEXT bytes (on a character boundary) with a marker. */
export const cut = (text: string): string => cutText(text, MAX_TOOL_TEXT)

const small = (value: unknown) => {
  try {
    const json = JSON.stringify(value)
    return json !== undefined && encoder.encode(json).length <= MAX_TOOL_TEXT
      ? { rawOutput: value }
      : {}
  } catch {
    return {}
  }
}

/**
 * What a result says, as text: its text blocks (an image or other block is left out), without
 * the `<tool_use_error>` tag Claude Code wraps the errors it writes for the model in.
 */
const textOf = (content: unknown): string => {
  const text =
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.flatMap((b) => str(obj(b).text) ?? []).join('\n')
        : ''
  return text.replace(/^<tool_use_error>([\s\S]*)<\/tool_use_error>$/, '$1')
}

/**
 * A file's change as ACP's diff, when it is known and small: an edit's replaced text, or a
 * file written whole (new, or with its former content from the tool's output).
 */
const diffOf = ({ name, input }: ToolUse, output: Json) => {
  const path = str(input.file_path)
  const [oldText, newText] =
    name === 'Edit'
      ? [str(input.old_string), str(input.new_string)]
      : name === 'Write'
        ? [str(output.originalFile) ?? null, str(input.content)]
        : []
  if (!path || oldText === undefined || newText === undefined) return []
  if ((oldText?.length ?? 0) + newText.length > MAX_TOOL_TEXT) return []
  return [{ type: 'diff' as const, path, oldText, newText }]
}

/**
 * The `tool_call_update` for a `tool_result` block: failed when Claude Code says `is_error`,
 * the text it gave the model as content, the tool's own output object (`output`, when the line
 * has one) as rawOutput when small, and a file's change as a diff.
 */
export const toolResult = (
  id: string,
  use: ToolUse,
  block: Json,
  output: unknown,
): AgentUpdateInput => {
  const failed = block.is_error === true
  const text = textOf(block.content)
  return {
    sessionUpdate: 'tool_call_update',
    toolCallId: id,
    status: failed ? 'failed' : 'completed',
    content: [
      { type: 'content', content: { type: 'text', text: cut(text) } },
      ...(failed ? [] : diffOf(use, obj(output))),
    ],
    ...small(output ?? text),
  }
}
