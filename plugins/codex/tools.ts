import { obj, str, type AgentUpdateInput, type Json } from 'workers-spawner/plugin'

/**
 * Codex's tool items (`command_execution`, `file_change`, `mcp_tool_call`, `web_search`,
 * `collab_tool_call`) as ACP tool calls: what the call is (title, kind, input, files) and, once
 * the item completes, how it ended and what it gave back.
 */

type ToolCall = Extract<AgentUpdateInput, { sessionUpdate: 'tool_call' }>
type Update = Extract<AgentUpdateInput, { sessionUpdate: 'tool_call_update' }>
/** What a tool item says about the call itself, known from its start. */
export type ToolCallInfo = Pick<ToolCall, 'title' | 'kind' | 'rawInput' | 'locations'>
/** How a tool item ended. */
export type ToolCallEnd = Pick<Update, 'status' | 'content' | 'rawOutput'>

/** Tool output over this many UTF-8 bytes is cut, with a marker saying so. */
export const MAX_TOOL_TEXT_BYTES = 8 * 1024

const MAX_TITLE = 120

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])

/** `text` within MAX_TOOL_TEXT_BYTES: a longer one is cut on a character and says so. */
export const capText = (text: string): string => {
  const bytes = new TextEncoder().encode(text)
  if (bytes.length <= MAX_TOOL_TEXT_BYTES) return text
  // A character cut in two decodes to U+FFFD at the end: dropped.
  const head = new TextDecoder().decode(bytes.slice(0, MAX_TOOL_TEXT_BYTES)).replace(/\uFFFD+$/, '')
  return `${head}\n… [cut: ${bytes.length} bytes in all]`
}

const textContent = (text: string): ToolCallEnd['content'] =>
  text ? [{ type: 'content', content: { type: 'text', text: capText(text) } }] : []

/** `value` when its JSON is small enough to pass on whole, else left out. */
const small = (value: unknown): unknown => {
  if (value === undefined || value === null) return undefined
  const json = JSON.stringify(value)
  return json !== undefined && new TextEncoder().encode(json).length <= MAX_TOOL_TEXT_BYTES
    ? value
    : undefined
}

const oneLine = (text: string) => {
  const line = text.trim().split('\n')[0]!.trim()
  const cut = line.length > MAX_TITLE ? `${line.slice(0, MAX_TITLE - 1)}…` : line
  return text.trim().includes('\n') && cut === line ? `${line} …` : cut
}

/**
 * The command a person typed, out of Codex's wrapper: `/bin/bash -lc 'ls -la'` is `ls -la`.
 * Codex quotes it as a shell word: in single quotes, or in double quotes when it holds a single
 * quote (`"printf '%s\\n' \"it's\""`). Anything else stays as Codex gave it.
 */
export const shownCommand = (command: string): string => {
  const m = /^(?:\S*\/)?(?:ba|z)?sh -l?c ('[^']*'|"(?:[^"\\]|\\[\s\S])*")$/.exec(command)
  if (!m) return command
  const word = m[1]!.slice(1, -1)
  return m[1]!.startsWith("'") ? word : word.replace(/\\([$`"\\\n])/g, '$1')
}

const changesOf = (item: Json) =>
  list(item.changes).map((c) => ({ path: str(obj(c).path) ?? '', kind: str(obj(c).kind) }))

const VERB: Record<string, string> = { add: 'Add', delete: 'Delete', update: 'Edit' }

/** The call a tool item stands for; undefined for an item that is no tool call. */
export const toolCallInfo = (item: Json): ToolCallInfo | undefined => {
  switch (item.type) {
    case 'command_execution': {
      const command = str(item.command) ?? ''
      return {
        title: `Run: ${oneLine(shownCommand(command))}`,
        kind: 'execute',
        rawInput: { command },
      }
    }
    case 'file_change': {
      const changes = changesOf(item).filter((c) => c.path)
      const [first] = changes
      const title =
        changes.length === 1
          ? `${VERB[first!.kind ?? ''] ?? 'Edit'} ${first!.path}`
          : `Edit ${changes.length} files`
      const deletes = changes.length > 0 && changes.every((c) => c.kind === 'delete')
      return {
        title,
        kind: deletes ? 'delete' : 'edit',
        rawInput: { changes },
        locations: changes.map(({ path }) => ({ path })),
      }
    }
    case 'mcp_tool_call': {
      const [server, tool] = [str(item.server) ?? '?', str(item.tool) ?? '?']
      return { title: `Call ${server}.${tool}`, kind: 'other', rawInput: item.arguments ?? {} }
    }
    case 'web_search': {
      const query = str(item.query) || str(obj(item.action).query) || ''
      const title = query ? `Search the web: ${oneLine(query)}` : 'Search the web'
      return { title, kind: 'fetch', rawInput: { query, action: item.action } }
    }
    case 'collab_tool_call': {
      const tool = str(item.tool) ?? '?'
      const rawInput = { tool, prompt: item.prompt, receiverThreadIds: item.receiver_thread_ids }
      return { title: `Sub-agent: ${tool.replace(/_/g, ' ')}`, kind: 'other', rawInput }
    }
    default:
      return undefined
  }
}

/** MCP content blocks as text: text blocks as they are, any other block as its JSON. */
const mcpText = (blocks: unknown[]) =>
  blocks
    .map((b) => (obj(b).type === 'text' ? (str(obj(b).text) ?? '') : JSON.stringify(b)))
    .join('\n')

/** How a tool item ended: `completed` when Codex says so, `failed` otherwise (declined too). */
export const toolCallEnd = (item: Json): ToolCallEnd => {
  const status = item.status === 'completed' ? 'completed' : 'failed'
  switch (item.type) {
    case 'command_execution': {
      const output = str(item.aggregated_output) ?? ''
      const rawOutput = small({ exitCode: item.exit_code ?? null, output })
      return { status, content: textContent(output), ...(rawOutput ? { rawOutput } : {}) }
    }
    case 'file_change': {
      // Newer Codex releases add each change's unified diff; without it, what changed where.
      const diffs = list(item.changes).map((c) => str(obj(c).diff) ?? '')
      const text = diffs.every(Boolean)
        ? diffs.join('\n')
        : changesOf(item)
            .map((c) => `${c.kind ?? 'update'} ${c.path}`)
            .join('\n')
      return { status, content: textContent(text) }
    }
    case 'mcp_tool_call': {
      const [result, error] = [obj(item.result), obj(item.error)]
      const text = str(error.message) ?? mcpText(list(result.content))
      const rawOutput = small(item.error ?? item.result)
      return { status, content: textContent(text), ...(rawOutput ? { rawOutput } : {}) }
    }
    case 'collab_tool_call': {
      const states = Object.entries(obj(item.agents_states)).map(([thread, s]) => {
        const { status: state, message } = obj(s)
        return `${thread}: ${str(state) ?? '?'}${str(message) ? `: ${str(message)}` : ''}`
      })
      const rawOutput = small(item.agents_states)
      return {
        status,
        content: textContent(states.join('\n')),
        ...(rawOutput ? { rawOutput } : {}),
      }
    }
    default:
      // A web search: Codex shows the query, never what it found.
      return { status: 'completed' }
  }
}
