import {
  obj,
  str,
  type AgentUpdateInput,
  type Json,
  type UpdatesHook,
} from 'workers-spawner/plugin'
import { planOf } from './todos.ts'

/**
 * droid's output as the common agent updates. `-o stream-json` prints whole events, never
 * deltas: one `message` per assistant message, `reasoning` (the model's thinking), `tool_call`
 * and `tool_result`, `error`, then `completion`. `-o json` prints only the closing `result`.
 */

/** What a turn remembers across its lines. */
interface Turn {
  /** Some text was sent: the next message is set off by a blank line, and not sent twice. */
  said?: boolean
  /** Thoughts sent (message id and text): droid prints a chat model's reasoning twice. */
  thoughts?: Set<string>
  /** The tool calls seen, by id: a result names neither the tool's input nor always its name. */
  tools?: Record<string, { name: string; input: Json }>
  ended?: boolean
}

type Kind = NonNullable<Extract<AgentUpdateInput, { sessionUpdate: 'tool_call' }>['kind']>
type Tool = {
  kind: Kind
  /** A short line for people, from the tool's input. */
  title: (input: Json) => string
  /** The file or folder it works on. */
  path?: (input: Json) => string | undefined
}

/** Text of a tool's result longer than this (UTF-8 bytes) is cut; the raw line has it all. */
export const MAX_TOOL_TEXT_BYTES = 8 * 1024

const TITLE_CHARS = 120

/** `prefix detail`, on one line and not too long; just `prefix` without a detail. */
const titled = (prefix: string, detail: unknown, sep = ' ') => {
  const text = typeof detail === 'string' ? detail.trim().split('\n')[0]! : ''
  const line = text ? `${prefix}${sep}${text}` : prefix
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line
}

const within = (input: Json, key: string) => (str(input[key]) ? ` in ${str(input[key])}` : '')

/** The files an ApplyPatch patch touches (`*** Update File: <path>` and its kin). */
const patched = (input: Json) =>
  [...(str(input.input) ?? '').matchAll(/^\*\*\* (?:Add|Update|Delete) File: (.+)$/gm)].map((m) =>
    m[1]!.trim(),
  )

const filePath = (input: Json) => str(input.file_path)

/**
 * droid's tools (input shapes from the CLI's own schemas; names as it prints them): ACP's kind,
 * a title, and the path they work on.
 */
const TOOLS: Record<string, Tool> = {
  Read: { kind: 'read', title: (i) => titled('Read', i.file_path), path: filePath },
  LS: {
    kind: 'read',
    title: (i) => titled('List', i.directory_path ?? '.'),
    path: (i) => str(i.directory_path),
  },
  Execute: { kind: 'execute', title: (i) => titled('Run:', i.command) },
  Edit: { kind: 'edit', title: (i) => titled('Edit', i.file_path), path: filePath },
  Create: { kind: 'edit', title: (i) => titled('Create', i.file_path), path: filePath },
  ApplyPatch: {
    kind: 'edit',
    title: (i) => titled('Patch', patched(i).join(', ')),
    path: (i) => patched(i)[0],
  },
  Grep: {
    kind: 'search',
    title: (i) => titled('Grep', `${str(i.pattern) ?? ''}${within(i, 'path')}`),
    path: (i) => str(i.path),
  },
  Glob: {
    kind: 'search',
    title: (i) => {
      const patterns = Array.isArray(i.patterns) ? i.patterns.filter((p) => str(p)) : []
      return titled('Glob', `${patterns.join(', ')}${within(i, 'folder')}`)
    },
    path: (i) => str(i.folder),
  },
  WebSearch: { kind: 'fetch', title: (i) => titled('Search the web:', i.query) },
  FetchUrl: { kind: 'fetch', title: (i) => titled('Fetch', i.url) },
  TodoWrite: { kind: 'think', title: () => 'Update the plan' },
  Task: { kind: 'other', title: (i) => titled('Task:', i.description) },
  Skill: { kind: 'other', title: (i) => titled('Skill:', i.skill) },
  AskUser: { kind: 'other', title: () => 'Ask the user' },
  ExitSpecMode: { kind: 'switch_mode', title: (i) => titled('Propose a spec:', i.title) },
}

/** Where a tool call works, for clients that follow along (Read's `offset` is a line). */
const locations = (tool: Tool | undefined, input: Json) => {
  const path = tool?.path?.(input)
  if (!path) return {}
  const line = tool === TOOLS.Read && Number.isInteger(input.offset) ? input.offset : undefined
  return { locations: [typeof line === 'number' ? { path, line } : { path }] }
}

/** An edit shown as a diff, as droid's own ACP mode shows it. */
const diff = (name: string, input: Json) => {
  const [path, oldStr, newStr] = [str(input.file_path), str(input.old_str), str(input.new_str)]
  if (name === 'Edit' && path && oldStr !== undefined && newStr !== undefined)
    return { content: [{ type: 'diff' as const, path, oldText: oldStr, newText: newStr }] }
  const content = str(input.content)
  if (name === 'Create' && path && content !== undefined)
    return { content: [{ type: 'diff' as const, path, oldText: null, newText: content }] }
  return {}
}

/** `text` cut to `MAX_TOOL_TEXT_BYTES`, with a marker that says so. */
export const cut = (text: string): { text: string; whole: boolean } => {
  const bytes = new TextEncoder().encode(text)
  if (bytes.length <= MAX_TOOL_TEXT_BYTES) return { text, whole: true }
  // `stream` holds back a character split by the cut rather than mangle it.
  const head = new TextDecoder().decode(bytes.subarray(0, MAX_TOOL_TEXT_BYTES), { stream: true })
  return { text: `${head}\n[… cut: ${bytes.length} bytes in all]`, whole: false }
}

/** Text the agent said, set off from what it said before in the turn. */
const say = (t: Turn, text: unknown): AgentUpdateInput[] => {
  const said = typeof text === 'string' ? text.trim() : ''
  if (!said) return []
  const chunk = t.said ? `\n\n${said}` : said
  t.said = true
  return [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: chunk } }]
}

const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/** droid's token counts (`factory_credits` are not dollars, so no cost). */
const usage = (u: unknown): AgentUpdateInput[] => {
  if (typeof u !== 'object' || u === null) return []
  const n = u as Json
  return [
    {
      sessionUpdate: 'usage_update',
      inputTokens: count(n.input_tokens),
      outputTokens: count(n.output_tokens),
      cacheReadInputTokens: count(n.cache_read_input_tokens),
      cacheCreationInputTokens: count(n.cache_creation_input_tokens),
    },
  ]
}

/** The end of a turn; droid names no stop reason, and a stopped run prints no end at all. */
const end = (t: Turn, line: Json): AgentUpdateInput[] => {
  t.ended = true
  const sessionId = str(line.session_id)
  return [
    { sessionUpdate: 'turn_end', stopReason: 'end_turn', ...(sessionId ? { sessionId } : {}) },
  ]
}

const toolCall = (t: Turn, line: Json): AgentUpdateInput[] => {
  const [id, name] = [str(line.id), str(line.toolName) ?? str(line.toolId) ?? 'tool']
  if (!id) return []
  const input = obj(line.parameters)
  ;(t.tools ??= {})[id] = { name, input }
  const tool = Object.hasOwn(TOOLS, name) ? TOOLS[name] : undefined
  return [
    {
      sessionUpdate: 'tool_call',
      toolCallId: id,
      title: tool?.title(input) ?? name,
      kind: tool?.kind ?? 'other',
      // Printed once the model has asked for it; with permissions skipped it runs right away.
      status: 'in_progress',
      rawInput: line.parameters,
      ...locations(tool, input),
      ...diff(name, input),
    },
  ]
}

const toolResult = (t: Turn, line: Json): AgentUpdateInput[] => {
  const id = str(line.id)
  if (!id) return []
  const failed = line.isError === true
  const raw = failed ? line.error : line.value
  const said = failed ? str(obj(line.error).message) : str(line.value)
  const { text, whole } = cut(said ?? '')
  const update: AgentUpdateInput = {
    sessionUpdate: 'tool_call_update',
    toolCallId: id,
    status: failed ? 'failed' : 'completed',
    ...(text ? { content: [{ type: 'content', content: { type: 'text', text } }] } : {}),
    ...(whole && raw !== undefined ? { rawOutput: raw } : {}),
  }
  const call = t.tools?.[id]
  // The plan changes only when droid took the list (it refuses TodoWrite for some models).
  const plan = !failed && call?.name === 'TodoWrite' ? planOf(call.input.todos) : undefined
  return plan ? [update, { sessionUpdate: 'plan', entries: plan }] : [update]
}

/**
 * One line of droid's stdout as agent updates: text, thoughts, tool calls and their results, a
 * todo list as the plan, errors, and at the end usage and `turn_end` (none when the run failed:
 * then droid prints `error` events, or a `result` with `is_error`).
 */
export const updates: UpdatesHook = (line, turn) => {
  const t = turn as Turn
  if (t.ended) return []
  switch (line.type) {
    case 'message':
      return line.role === 'assistant' ? say(t, line.text) : []
    case 'reasoning': {
      const text = str(line.text)
      const key = `${str(line.id)}\n${text}`
      if (!text?.trim() || t.thoughts?.has(key)) return []
      ;(t.thoughts ??= new Set()).add(key)
      return [{ sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text } }]
    }
    case 'tool_call':
      return toolCall(t, line)
    case 'tool_result':
      return toolResult(t, line)
    case 'error': {
      const message = str(line.message)
      return message ? [{ sessionUpdate: 'error', message }] : []
    }
    case 'completion':
      // The final text is the last message, already sent; said here only when no message was
      // printed (a run droid ends early, with its own reason as the text).
      return [...(t.said ? [] : say(t, line.finalText)), ...usage(line.usage), ...end(t, line)]
    case 'result':
      if (line.is_error) {
        const message = str(line.result) || 'droid exec failed'
        return [...usage(line.usage), { sessionUpdate: 'error', message }]
      }
      return [...say(t, line.result), ...usage(line.usage), ...end(t, line)]
    default:
      return []
  }
}
