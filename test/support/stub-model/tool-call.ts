/** A tool a request declares: its name and JSON schema, whatever the provider's wrapping. */
export interface DeclaredTool {
  name: string
  parameters?: unknown
}

/** What the stub answers: a call of the CLI's shell tool, or text. */
export type Turn = { call: { name: string; args: Record<string, unknown> } } | { text: string }

const COMMAND = /Run the command: (.+)/g

/** The command of the last "Run the command: <cmd>" in a prompt. */
export const commandIn = (prompt: string): string | undefined =>
  [...prompt.matchAll(COMMAND)].at(-1)?.[1]?.trim()

// The shell tools of the five CLIs: Bash, run_shell_command, Execute, bash, shell/exec_command.
const SHELL = /^(bash|run_shell_command|execute|shell|shell_command|exec_command)$/i

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[] }

/**
 * The arguments of a shell tool for `cmd`, read from its schema: the command under `command` or
 * `cmd` (an argv when the schema wants an array), every other required string filled in.
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
 * The stub's turn when tools are in play. `prompt` is the last user text, `result` the tool result
 * that ends the conversation so far (if the last message is one). After a result it reports it;
 * a prompt "Run the command: <cmd>" gets a call of the shell tool among `tools`. Otherwise
 * undefined: the plain answer applies.
 */
export const toolTurn = (
  prompt: string,
  result: string | undefined,
  tools: DeclaredTool[],
): Turn | undefined => {
  if (result !== undefined) return { text: `Tool result: ${result.trim()}` }
  const cmd = commandIn(prompt)
  // A request without tools (a CLI's side call, e.g. a title) gets the plain answer.
  if (!cmd || !tools.length) return undefined
  const tool = tools.find((t) => SHELL.test(t.name))
  if (!tool) return { text: `No shell tool among: ${tools.map((t) => t.name).join(', ')}` }
  return { call: { name: tool.name, args: argsFor(tool, cmd) } }
}

/** A tool result's content as text, whatever shape the CLI sent. */
export const resultText = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map(resultText).join('')
      : content && typeof content === 'object'
        ? textField(content as Record<string, unknown>)
        : String(content)

// A Gemini function response is `{ output }` or `{ error }`; a content part is `{ text }`.
const textField = (o: Record<string, unknown>) => {
  const v = o.text ?? o.output ?? o.error
  return typeof v === 'string' ? v : JSON.stringify(o)
}
