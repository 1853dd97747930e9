import { afterToolReply, commandToRun, shellToolOf } from './server.ts'

/** A tool a request declares: its name and JSON schema, whatever the provider's wrapping. */
export interface DeclaredTool {
  name: string
  parameters?: unknown
}

/** What the stub answers: a call of the CLI's shell tool, or text. */
export type Turn = { call: { name: string; args: Record<string, unknown> } } | { text: string }

/** A tool result as the stub reads it: its text, and whether the CLI marked it failed. */
export interface ToolResult {
  text: string
  /** Undefined when the format has no such mark: then a result that says so is a refusal. */
  isError?: boolean
}

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[] }

/**
 * The arguments of a shell tool for `cmd`, read from its schema: the command under `command` or
 * `cmd` (an argv when the schema wants an array), every other required string filled in (e.g.
 * opencode's `description`).
 */
const argsFor = (tool: DeclaredTool, cmd: string) => {
  const schema = (tool.parameters ?? {}) as Schema
  const props = schema.properties ?? {}
  const key = ['command', 'cmd'].find((k) => k in props) ?? 'command'
  const args: Record<string, unknown> = {}
  for (const name of schema.required ?? [])
    if (props[name]?.type === 'string') args[name] = `Runs ${cmd}`
  args[key] = props[key]?.type === 'array' ? ['bash', '-lc', cmd] : cmd
  return args
}

/**
 * The stub's turn in a format with function tools (Gemini, chat completions, Responses):
 * `prompt` is the last user text, `result` the tool result that ends the conversation so far.
 * After a result it reports it (`Tool result: …`, or `Denied: …`); a prompt "Run the command:
 * <cmd>" gets a call of the shell tool among `tools`. Otherwise undefined: the plain answer.
 */
export const toolTurn = (
  prompt: string,
  result: ToolResult | undefined,
  tools: DeclaredTool[],
): Turn | undefined => {
  if (result) {
    const failed = result.isError ?? /denied|blocked/i.test(result.text)
    return { text: afterToolReply(result.text, failed) }
  }
  const cmd = commandToRun(prompt)
  const name = shellToolOf(tools.map((t) => t.name))
  const tool = tools.find((t) => t.name === name)
  // A request without a shell tool (a CLI's side call, e.g. a title) gets the plain answer.
  if (!cmd || !tool) return undefined
  return { call: { name: tool.name, args: argsFor(tool, cmd) } }
}

// A Gemini function response is `{ output }` or `{ error }`; a content part is `{ text }`.
const textField = (o: Record<string, unknown>) => {
  const v = o.text ?? o.output ?? o.error
  return typeof v === 'string' ? v : JSON.stringify(o)
}

/** A message's or tool result's content as text, whatever shape the CLI sent. */
export const resultText = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map(resultText).join('')
      : content && typeof content === 'object'
        ? textField(content as Record<string, unknown>)
        : String(content)
