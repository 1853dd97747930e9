import { PERMIT_FORMATS, type PermitAnswer, type PermitOutput } from './permit-formats.ts'

/** One `request_permission` call's answer. */
export interface PermitReply {
  decision: 'allow' | 'deny' | 'pending'
  reason?: string
  by?: string
  deadline?: string
}

/** What `permit` needs around it; `ask` throws errors carrying `code` and HTTP `status`. */
export interface PermitIo {
  ask: (input: {
    requestId: string
    tool: string
    input: unknown
    waitMs: number
  }) => Promise<PermitReply>
  stdin: () => Promise<Uint8Array>
  sleep: (ms: number) => Promise<void>
  now: () => number
  /** A fresh random id, for a call whose payload has none. */
  randomId: () => string
}

/** Errors after which the same request is asked again: the service is away or restarting. */
const RETRY_CODES = new Set([
  'unreachable',
  'unavailable',
  'not_ready',
  'shutting_down',
  'interrupted',
  'owner_timeout',
  'too_many_commands',
  'worker_api_unreachable',
])

const retryable = (err: unknown) => {
  const e = err as { code?: unknown; status?: unknown }
  return (
    (typeof e.code === 'string' && RETRY_CODES.has(e.code)) ||
    (typeof e.status === 'number' && e.status >= 500)
  )
}

/** How long the service is waited for before any deadline is known (it may be restarting). */
export const UNKNOWN_DEADLINE_MS = 10 * 60_000

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** The request id: the CLI's own call id when it can be one, else a fresh one. */
const requestIdOf = (id: string | undefined, io: PermitIo) => {
  if (id && ID.test(id)) return id
  if (id) {
    const cleaned = id.replace(/[^A-Za-z0-9._:-]/g, '_').replace(/^[^A-Za-z0-9]+/, '')
    if (cleaned && ID.test(cleaned.slice(0, 128))) return cleaned.slice(0, 128)
  }
  return io.randomId()
}

/**
 * `orchestrator permit`: an agent CLI's pre-tool hook. Reads the tool call from stdin, asks the
 * service (`request_permission`) and waits for its decision, asking again with the same id
 * while the answer is pending or the service is away (restarting), until its deadline. Fails
 * closed: anything but an allow is a deny, in the CLI's format.
 */
export const permit = async (format: string, io: PermitIo): Promise<PermitOutput> => {
  const fmt = PERMIT_FORMATS[format]
  if (!fmt) {
    const known = Object.keys(PERMIT_FORMATS).join(', ')
    // Not a format's answer: every hook treats exit 2 as "blocked".
    return {
      stderr: `orchestrator permit: unknown --format '${format}' (known: ${known})\n`,
      exitCode: 2,
    }
  }
  const deny = (reason: string) => fmt.write({ allow: false, reason })
  let call
  try {
    call = fmt.read(JSON.parse(new TextDecoder().decode(await io.stdin())))
  } catch (err) {
    return deny(`permission denied: cannot read the tool call (${message(err)})`)
  }
  const requestId = requestIdOf(call.id, io)
  let deadline = io.now() + UNKNOWN_DEADLINE_MS
  let pause = 500
  for (;;) {
    let reply: PermitReply
    try {
      reply = await io.ask({
        requestId,
        tool: call.tool,
        input: call.input ?? null,
        waitMs: 20_000,
      })
    } catch (err) {
      if (!retryable(err)) return deny(`permission denied: ${message(err)}`)
      if (io.now() >= deadline)
        return deny(`permission denied: the service did not answer in time (${message(err)})`)
      await io.sleep(Math.min(pause, Math.max(0, deadline - io.now())))
      pause = Math.min(pause * 2, 5_000)
      continue
    }
    pause = 500
    if (reply.decision === 'pending') {
      // Denied by the service at the deadline; a little slack for its answer to arrive.
      if (reply.deadline) deadline = Date.parse(reply.deadline) + 30_000
      if (io.now() >= deadline) return deny('permission denied: nobody answered in time')
      continue
    }
    const answer: PermitAnswer = {
      allow: reply.decision === 'allow',
      reason: reasonOf(reply),
    }
    return fmt.write(answer)
  }
}

/** E.g. `permission denied by the operator: not now`, `permission denied (nobody answered in time)`. */
const reasonOf = (r: PermitReply) => {
  const base = r.decision === 'allow' ? 'allowed' : 'permission denied'
  if (r.by === 'timeout') return `${base} (nobody answered in time)`
  const who = r.by ? ` by the ${r.by}` : ''
  return `${base}${who}${r.reason ? `: ${r.reason}` : ''}`
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))
