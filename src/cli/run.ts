/**
 * The `orchestrator` CLI: what an agent inside a worker runs to call back into the service.
 * Pure apart from its injected I/O, so every command is testable without a container. Which
 * tool a verb needs and how its request looks come from the command table.
 */
import { commandTable, type CommandName } from '../core/commands.ts'
import type { ErrorCode } from '../core/error-codes.ts'
import { requestFor } from './request.ts'
import { permit } from './permit.ts'
import { PERMIT_FORMATS } from './permit-formats.ts'

/** Exit codes: documented in `orchestrator --help`. */
export const EXIT = { ok: 0, other: 1, usage: 2, denied: 3, notFound: 4 } as const

export interface CliIo {
  env: Record<string, string | undefined>
  fetch: typeof fetch
  /** A fetch over the Unix socket at `socketPath`, for `ORCHESTRATOR_URL=unix://<path>`. */
  unixFetch: (socketPath: string) => typeof fetch
  stdout: (text: string | Uint8Array) => void
  stderr: (text: string) => void
  readFile: (path: string) => Promise<Uint8Array>
  readStdin: () => Promise<Uint8Array>
  /** The token file the service keeps current (preferred over ORCHESTRATOR_TOKEN). */
  readToken: () => Promise<string | undefined>
  /** Waits between retries (`permit`); default: a timer. */
  sleep?: (ms: number) => Promise<void>
  /** The clock (`permit`); default: Date.now. */
  now?: () => number
}

/** The CLI's own codes, besides the service's (`ErrorCode`) it answers with or relays. */
type CliCode = 'error' | 'usage' | 'unreachable'

class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly code: CliCode | ErrorCode = 'error',
    /** The HTTP status the service answered, when it answered. */
    readonly status?: number,
  ) {
    super(message)
  }
}

const HELP: Record<string, string> = {
  '': `orchestrator — call the workers-spawner service from inside a worker

Usage: orchestrator <command> [options] [--json]

Commands:
  whoami                              this worker's id, parent and tools
  tools                               the tools this worker may use
  respond <text>                      publish a response event (talk back mid-task)
  spawn --agent A [--cap C]… [--tool T]… [--permissions P] [--prompt P]
                                      start a sub-worker (optionally send it a prompt)
  send <worker> --prompt P            send a prompt to a worker's agent
  send <worker> -- CMD [ARG…]         run a command in a worker
  status [<worker>]                   state of a worker (default: this one)
  logs <worker> [--tail N]            a worker's container log
  delete <worker>                     delete a sub-worker (and its sub-workers)
  file put <worker> <path> [--from F] write a file (stdin when no --from)
  file get <worker> <path>            print a file
  permit [--format F]                 pre-tool hook: ask for the tool call on stdin (exit 0/2)
  permissions [<worker>]              permission requests waiting (default: sub-workers')
  answer <worker> <request> allow|deny|always [--reason R]
                                      answer a sub-worker's permission request

Options: --json (machine output), --help
Exit codes: 0 ok, 2 usage, 3 permission denied, 4 not found, 1 other
Environment: ORCHESTRATOR_URL (http(s)://… or unix://<socket path>), ORCHESTRATOR_TOKEN,
  ORCHESTRATOR_ALLOWED_TOOLS`,
  whoami: "Usage: orchestrator whoami [--json]\nPrints this worker's id, parent, agent and tools.",
  tools: 'Usage: orchestrator tools [--json]\nPrints the tools this worker may use, one per line.',
  respond:
    'Usage: orchestrator respond <text> [--json]\nPublishes a response event for this worker.',
  spawn:
    'Usage: orchestrator spawn --agent A [--cap C]… [--tool T]… [--permissions skip|ask|JSON] [--prompt P] [--json]\nStarts a sub-worker; with --prompt, sends it and prints the reply.',
  send: 'Usage: orchestrator send <worker> --prompt P [--json]\n       orchestrator send <worker> -- CMD [ARG…]\nRuns a prompt or command in a worker (itself or one it spawned).',
  status:
    'Usage: orchestrator status [<worker>] [--json]\nPrints the state of a worker (default: this one).',
  logs: "Usage: orchestrator logs <worker> [--tail N] [--json]\nPrints a worker's container log.",
  delete:
    'Usage: orchestrator delete <worker> [--json]\nDeletes a worker it spawned, with its sub-workers.',
  file: 'Usage: orchestrator file put <worker> <path> [--from F] [--json]\n       orchestrator file get <worker> <path>\nWrites or reads a file in a worker.',
  permit: `Usage: orchestrator permit [--format F]
An agent CLI's pre-tool hook: reads the tool call as JSON on stdin (tool_name, tool_input,
tool_use_id), asks the service and waits for the answer. Exit 0 allow, 2 deny (the reason on
stderr). Formats: ${Object.keys(PERMIT_FORMATS).join(', ')} (default claude).`,
  permissions:
    "Usage: orchestrator permissions [<worker>] [--json]\nLists a worker's permission requests waiting for an answer (default: this one's sub-workers').",
  answer:
    "Usage: orchestrator answer <worker> <request> allow|deny|always [--reason R] [--json]\nAnswers a sub-worker's permission request (always: allow that tool from now on).",
}

/**
 * The catalog commands each verb calls; it needs their tools, as the server checks. (`spawn
 * --prompt` also sends the prompt: that the server checks alone, once the worker exists.)
 */
const USES: Record<string, readonly CommandName[]> = {
  whoami: [],
  tools: [],
  respond: ['respond'],
  spawn: ['create'],
  send: ['send_command'],
  status: ['status'],
  logs: ['logs'],
  delete: ['delete'],
  file: ['send_file', 'read_file'],
  permit: ['request_permission'],
  permissions: ['permissions'],
  answer: ['answer_permission'],
}

/** The tools a verb needs. */
const toolsOf = (verb: string) => [
  ...new Set(USES[verb]!.map((name) => commandTable[name].permission)),
]

interface Parsed {
  command: string
  positional: string[]
  flags: Map<string, string[]>
  rest: string[]
  json: boolean
  help: boolean
}

const VALUE_FLAGS = new Set([
  'agent',
  'cap',
  'tool',
  'prompt',
  'tail',
  'from',
  'format',
  'reason',
  'permissions',
])

/** Splits argv into command, positionals, flags and what follows `--`. */
export const parseArgs = (argv: string[]): Parsed => {
  const out: Parsed = {
    command: '',
    positional: [],
    flags: new Map(),
    rest: [],
    json: false,
    help: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      out.rest = argv.slice(i + 1)
      break
    }
    if (a === '--json') out.json = true
    else if (a === '--help' || a === '-h') out.help = true
    else if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined]
      if (!VALUE_FLAGS.has(name))
        throw new CliError(EXIT.usage, `unknown option --${name}`, 'usage')
      const value = inline ?? argv[++i]
      if (value === undefined) throw new CliError(EXIT.usage, `--${name} needs a value`, 'usage')
      out.flags.set(name, [...(out.flags.get(name) ?? []), value])
    } else if (!out.command) out.command = a
    else out.positional.push(a)
  }
  return out
}

const one = (p: Parsed, flag: string) => p.flags.get(flag)?.at(-1)

const need = (value: string | undefined, what: string, command: string): string => {
  if (!value)
    throw new CliError(EXIT.usage, `${command}: missing ${what}\n${HELP[command] ?? ''}`, 'usage')
  return value
}

/** Runs one CLI invocation; returns its exit code. */
export const run = async (argv: string[], io: CliIo): Promise<number> => {
  let p: Parsed | undefined
  try {
    p = parseArgs(argv)
    if (p.help || !p.command) {
      io.stdout(`${HELP[p.help ? p.command : ''] ?? HELP['']}\n`)
      return p.command || p.help ? EXIT.ok : EXIT.usage
    }
    if (!Object.hasOwn(USES, p.command))
      throw new CliError(EXIT.usage, `unknown command '${p.command}'\n${HELP['']}`, 'usage')
    // A hook: whatever happens, it answers allow or deny in its CLI's terms (never another code,
    // which a CLI may take for "go ahead").
    if (p.command === 'permit') return await permitCommand(one(p, 'format') ?? 'claude', io)
    const allowed = (io.env.ORCHESTRATOR_ALLOWED_TOOLS ?? '').split(',').filter(Boolean)
    const missing = toolsOf(p.command).find((tool) => !allowed.includes(tool))
    if (missing && io.env.ORCHESTRATOR_ALLOWED_TOOLS !== undefined) {
      throw new CliError(
        EXIT.denied,
        `permission denied: this worker lacks the tool '${missing}'`,
        'tool_not_allowed',
      )
    }
    const api = client(io)
    return await commands[p.command]!(p, api, io)
  } catch (err) {
    if (p?.command === 'permit' && !p.help) {
      io.stderr(`permission denied: ${err instanceof Error ? err.message : String(err)}\n`)
      return 2
    }
    const e =
      err instanceof CliError
        ? err
        : new CliError(EXIT.other, err instanceof Error ? err.message : String(err))
    if (p?.json)
      io.stdout(`${JSON.stringify({ ok: false, error: { code: e.code, message: e.message } })}\n`)
    else io.stderr(`orchestrator: ${e.message}\n`)
    return e.exitCode
  }
}

type Api = ReturnType<typeof client>

const randomId = () =>
  `p-${[...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('')}`

/** `orchestrator permit`: see permit.ts. */
const permitCommand = async (format: string, io: CliIo): Promise<number> => {
  const api = client(io)
  const workerId = self(io)
  const out = await permit(format, {
    ask: (input) => api.run('request_permission', { workerId, ...input }),
    stdin: io.readStdin,
    sleep: io.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    now: io.now ?? Date.now,
    randomId,
  })
  if (out.stdout) io.stdout(out.stdout)
  if (out.stderr) io.stderr(out.stderr)
  return out.exitCode
}

/**
 * Where the service is: `http(s)://host[/prefix]`, or `unix://<socket path>` (HTTP over the
 * socket; an isolated worker's only way out).
 */
export const endpoint = (
  url: string,
  io: Pick<CliIo, 'fetch' | 'unixFetch'>,
): { base: string; fetch: typeof fetch } => {
  if (!url.startsWith('unix:')) return { base: url.replace(/\/$/, ''), fetch: io.fetch }
  const socketPath = decodeURIComponent(new URL(url).pathname)
  if (!socketPath.startsWith('/'))
    throw new CliError(EXIT.other, `ORCHESTRATOR_URL: '${url}' names no socket path`)
  return { base: 'http://localhost', fetch: io.unixFetch(socketPath) }
}

const client = (io: CliIo) => {
  const url = io.env.ORCHESTRATOR_URL
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    raw?: Uint8Array,
  ): Promise<Response> => {
    if (!url)
      throw new CliError(
        EXIT.other,
        'ORCHESTRATOR_URL is not set (this command runs inside a worker)',
      )
    const { base, fetch } = endpoint(url, io)
    const token = (await io.readToken()) ?? io.env.ORCHESTRATOR_TOKEN
    if (!token)
      throw new CliError(EXIT.denied, 'no worker token (ORCHESTRATOR_TOKEN)', 'unauthorized')
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    let payload: BodyInit | undefined
    if (raw) payload = raw as Uint8Array<ArrayBuffer>
    else if (body !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body)
    }
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
      })
    } catch (err) {
      throw new CliError(
        EXIT.other,
        `cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`,
        'unreachable',
      )
    }
    if (res.ok) return res
    let error: { code: CliCode | ErrorCode; message: string } = {
      code: 'error',
      message: `HTTP ${res.status}`,
    }
    try {
      // Relayed as the service answered it: a newer service may answer a code not listed here.
      error = ((await res.json()) as { error: typeof error }).error ?? error
    } catch {
      // not the error JSON
    }
    const exit =
      res.status === 401 || res.status === 403
        ? EXIT.denied
        : res.status === 404
          ? EXIT.notFound
          : res.status === 400
            ? EXIT.usage
            : EXIT.other
    throw new CliError(exit, error.message, error.code, res.status)
  }
  /** Calls catalog command `name`; `bytes` is the body of a command that takes raw bytes. */
  const command = (name: CommandName, input: Record<string, unknown>, bytes?: Uint8Array) => {
    const r = requestFor(commandTable[name].http, input)
    return call(r.method, r.path, r.body, bytes)
  }
  return {
    json: async (method: string, path: string, body?: unknown) =>
      (await call(method, path, body)).json() as Promise<any>,
    run: async (name: CommandName, input: Record<string, unknown>) =>
      (await command(name, input)).json() as Promise<any>,
    command,
  }
}

/** `--permissions`: `skip`, `ask` or a policy as JSON. */
const permissionsFlag = (value: string): unknown => {
  if (value === 'skip' || value === 'ask') return value
  try {
    return JSON.parse(value)
  } catch {
    throw new CliError(
      EXIT.usage,
      "--permissions must be 'skip', 'ask' or a policy as JSON",
      'usage',
    )
  }
}

const print = (io: CliIo, p: Parsed, data: unknown, human: string) =>
  io.stdout(
    p.json
      ? `${JSON.stringify({ ok: true, result: data })}\n`
      : human.endsWith('\n') || human === ''
        ? human
        : `${human}\n`,
  )

const self = (io: CliIo) => {
  const token = io.env.ORCHESTRATOR_TOKEN
  // The worker id is the token's subject; whoami asks the server, the others need it locally.
  try {
    const claims = JSON.parse(
      atob((token ?? '').split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')),
    ) as { sub?: string }
    if (claims.sub) return claims.sub
  } catch {
    // fall through
  }
  return io.env.WORKERS_SPAWNER_WORKER_ID ?? ''
}

const sendResult = (r: {
  exitCode: number
  stdout: string
  stderr: string
  reply?: { text: string }
}) => (r.reply ? r.reply.text : `${r.stdout}${r.stderr ? r.stderr : ''}`)

const commands: Record<string, (p: Parsed, api: Api, io: CliIo) => Promise<number>> = {
  async whoami(p, api, io) {
    const me = await api.json('GET', '/v1/whoami')
    print(
      io,
      p,
      me,
      `${me.workerId} (agent ${me.agent}${me.parentId ? `, spawned by ${me.parentId}` : ''})\ntools: ${me.tools.join(', ') || 'none'}`,
    )
    return EXIT.ok
  },
  async tools(p, api, io) {
    const me = await api.json('GET', '/v1/whoami')
    print(io, p, me.tools, (me.tools as string[]).join('\n'))
    return EXIT.ok
  },
  async respond(p, api, io) {
    const text = need(p.positional.join(' ') || undefined, '<text>', 'respond')
    const r = await api.run('respond', { workerId: self(io), text })
    print(io, p, r, '')
    return EXIT.ok
  },
  async spawn(p, api, io) {
    const agent = need(one(p, 'agent'), '--agent', 'spawn')
    const permissions = one(p, 'permissions')
    const config = {
      agent,
      capabilities: p.flags.get('cap') ?? [],
      allowedTools: p.flags.get('tool') ?? [],
      ...(permissions ? { permissions: permissionsFlag(permissions) } : {}),
    }
    const created = await api.run('create', { config })
    const prompt = one(p, 'prompt')
    if (!prompt) {
      print(io, p, created, created.workerId)
      return EXIT.ok
    }
    const r = await api.run('send_command', { workerId: created.workerId, prompt })
    print(io, p, { workerId: created.workerId, ...r }, `${created.workerId}\n${sendResult(r)}`)
    return r.exitCode === 0 ? EXIT.ok : EXIT.other
  },
  async send(p, api, io) {
    const worker = need(p.positional[0], '<worker>', 'send')
    const prompt = one(p, 'prompt')
    if (!prompt && p.rest.length === 0)
      throw new CliError(EXIT.usage, `send: give --prompt P or -- CMD…\n${HELP.send}`, 'usage')
    if (prompt && p.rest.length > 0)
      throw new CliError(EXIT.usage, 'send: --prompt and -- CMD are exclusive', 'usage')
    const r = await api.run('send_command', {
      workerId: worker,
      ...(prompt ? { prompt } : { argv: p.rest }),
    })
    print(io, p, r, sendResult(r))
    return r.exitCode === 0 ? EXIT.ok : EXIT.other
  },
  async status(p, api, io) {
    const worker = p.positional[0] ?? self(io)
    const s = await api.run('status', { workerId: worker })
    print(
      io,
      p,
      s,
      `${s.workerId} ${s.state} agent=${s.agent} expires=${s.expiresAt}${s.commandRunning ? ' (command running)' : ''}`,
    )
    return EXIT.ok
  },
  async logs(p, api, io) {
    const worker = need(p.positional[0], '<worker>', 'logs')
    const tail = one(p, 'tail')
    if (tail !== undefined && !/^\d+$/.test(tail))
      throw new CliError(EXIT.usage, '--tail must be a number', 'usage')
    const r = await api.run('logs', { workerId: worker, ...(tail ? { tail } : {}) })
    print(io, p, r, (r.lines as { text: string }[]).map((l) => l.text).join('\n'))
    return EXIT.ok
  },
  async delete(p, api, io) {
    const worker = need(p.positional[0], '<worker>', 'delete')
    const r = await api.run('delete', { workerId: worker })
    print(
      io,
      p,
      r,
      `deleted ${r.workerId}${r.children.length ? ` and ${r.children.length} sub-workers` : ''}`,
    )
    return EXIT.ok
  },
  async permissions(p, api, io) {
    type Pending = { requestId: string; summary: string; deadline: string; approver: string }
    const one = async (id: string) =>
      ((await api.run('permissions', { workerId: id })).pending as Pending[]).map((r) => ({
        workerId: id,
        ...r,
      }))
    let all
    if (p.positional[0]) all = await one(p.positional[0])
    else {
      const me = self(io)
      const { workers } = await api.run('list', {})
      const children = (workers as { workerId: string; parentId?: string }[]).filter(
        (w) => w.parentId === me,
      )
      all = (await Promise.all(children.map((w) => one(w.workerId)))).flat()
    }
    const human = all.map(
      (r) => `${r.workerId} ${r.requestId} ${r.summary} (until ${r.deadline}, ${r.approver})`,
    )
    print(io, p, all, human.join('\n'))
    return EXIT.ok
  },
  async answer(p, api, io) {
    const [worker, requestId, verb] = p.positional
    if (verb !== 'allow' && verb !== 'deny' && verb !== 'always')
      throw new CliError(
        EXIT.usage,
        `answer: expected allow, deny or always\n${HELP.answer}`,
        'usage',
      )
    const reason = one(p, 'reason')
    const r = await api.run('answer_permission', {
      workerId: need(worker, '<worker>', 'answer'),
      requestId: need(requestId, '<request>', 'answer'),
      decision: verb === 'deny' ? 'deny' : 'allow',
      always: verb === 'always',
      ...(reason ? { reason } : {}),
    })
    print(io, p, r, `${r.decision} ${r.workerId} ${r.requestId}`)
    return EXIT.ok
  },
  async file(p, api, io) {
    const [verb, worker, path] = p.positional
    if (verb !== 'put' && verb !== 'get')
      throw new CliError(EXIT.usage, `file: expected put or get\n${HELP.file}`, 'usage')
    const input = { workerId: need(worker, '<worker>', 'file'), path: need(path, '<path>', 'file') }
    if (verb === 'put') {
      const from = one(p, 'from')
      const bytes = from ? await io.readFile(from) : await io.readStdin()
      const r = (await (await api.command('send_file', input, bytes)).json()) as {
        path: string
        size: number
      }
      print(io, p, r, `wrote ${r.size} bytes to ${r.path}`)
      return EXIT.ok
    }
    const res = await api.command('read_file', input)
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (p.json)
      print(io, p, { path, size: bytes.length, content: btoa(String.fromCharCode(...bytes)) }, '')
    else io.stdout(bytes)
    return EXIT.ok
  },
}
