/**
 * How an agent CLI's pre-tool hook hands a tool call to `orchestrator permit` and takes the
 * answer back. One entry per hook convention, chosen with `--format`; the default is Claude
 * Code's (its PreToolUse hook).
 */

/** A tool call, as read from a hook's payload. */
export interface ToolCall {
  tool: string
  input: unknown
  /** The CLI's id of the call, when its payload has one (kept across retries). */
  id?: string
}

/** The answer to give the CLI. */
export interface PermitAnswer {
  allow: boolean
  reason: string
}

/** What a format writes: its stdout and stderr text and the exit code. */
export interface PermitOutput {
  stdout?: string
  stderr?: string
  exitCode: number
}

export interface PermitFormat {
  /** The call in `payload` (the hook's stdin, parsed as JSON); throws when there is none. */
  read(payload: unknown): ToolCall
  write(answer: PermitAnswer): PermitOutput
}

const first = (o: Record<string, unknown>, names: readonly string[]) => {
  for (const n of names) if (o[n] !== undefined && o[n] !== null) return o[n]
  return undefined
}

/**
 * Reads the fields most hooks send, under the names they use (`tool_name`, `toolName`, …); the
 * input may come as a JSON string.
 */
export const readToolCall = (payload: unknown): ToolCall => {
  if (typeof payload !== 'object' || payload === null)
    throw new Error('the payload is not a JSON object')
  const o = payload as Record<string, unknown>
  const tool = first(o, ['tool_name', 'toolName', 'tool', 'name'])
  if (typeof tool !== 'string' || tool === '')
    throw new Error('the payload names no tool (tool_name)')
  let input = first(o, ['tool_input', 'toolInput', 'input', 'arguments', 'args', 'params'])
  if (typeof input === 'string') {
    try {
      input = JSON.parse(input)
    } catch {
      // a plain string input stays one
    }
  }
  const id = first(o, [
    'tool_use_id',
    'toolUseId',
    'tool_call_id',
    'toolCallId',
    'call_id',
    'callId',
    'id',
  ])
  return { tool, input, ...(typeof id === 'string' && id !== '' ? { id } : {}) }
}

/** Claude Code's PreToolUse hook: exit 0 with an allow decision, or exit 2 with the reason. */
const claude: PermitFormat = {
  read: readToolCall,
  write: ({ allow, reason }) =>
    allow
      ? {
          // An explicit allow also passes Claude Code's own permission check (any mode).
          stdout: `${JSON.stringify({
            hookSpecificOutput: {
              hookEventName: 'PreToolUse',
              permissionDecision: 'allow',
              permissionDecisionReason: reason,
            },
          })}\n`,
          exitCode: 0,
        }
      : { stderr: `${reason}\n`, exitCode: 2 },
}

/** Exit status only: 0 allow, 2 deny with the reason on stderr (any hook that reads codes). */
const exitCode: PermitFormat = {
  read: readToolCall,
  write: ({ allow, reason }) => (allow ? { exitCode: 0 } : { stderr: `${reason}\n`, exitCode: 2 }),
}

/** A JSON line `{ decision, reason }` on stdout, exit 0 either way (hooks that read JSON). */
const json: PermitFormat = {
  read: readToolCall,
  write: ({ allow, reason }) => ({
    stdout: `${JSON.stringify({ decision: allow ? 'allow' : 'deny', reason })}\n`,
    exitCode: 0,
  }),
}

/** The formats by `--format` name. */
export const PERMIT_FORMATS: Record<string, PermitFormat> = {
  claude,
  'exit-code': exitCode,
  json,
}
