import type { WorkerRecord } from '../worker-record.ts'

/** What an agent asks with `session/request_permission` (the fields the core reads). */
export interface PermissionRequest {
  sessionId?: unknown
  /** The tool call it wants to make (title, kind, rawInput, …). */
  toolCall?: unknown
  /** The answers it offers: `{ optionId, name, kind: allow_once | allow_always | reject_once | reject_always }`. */
  options?: unknown
}

export type PermissionDecision = 'allow' | 'deny'

/**
 * Whether a worker's ACP agent may make the tool call it asks about: the one place where the
 * worker's permission mode decides. Deny for now: a plugin puts its agent in a mode that does
 * not ask (`acp.mode`; the container is the sandbox), so a request is something outside that
 * mode, and nobody is there to approve it.
 */
export const decidePermission = (
  _record: WorkerRecord,
  _request: PermissionRequest,
): PermissionDecision => 'deny'

type Option = { optionId: string; kind: string }

const optionsOf = (request: PermissionRequest): Option[] =>
  Array.isArray(request.options)
    ? request.options.filter(
        (o): o is Option =>
          typeof o === 'object' &&
          o !== null &&
          typeof (o as Option).optionId === 'string' &&
          typeof (o as Option).kind === 'string',
      )
    : []

/**
 * The answer to `session/request_permission` for a decision: the agent's own option of that
 * kind (once, else always), or `cancelled` when it offered none.
 */
export const permissionOutcome = (decision: PermissionDecision, request: PermissionRequest) => {
  const options = optionsOf(request)
  const kinds =
    decision === 'allow' ? ['allow_once', 'allow_always'] : ['reject_once', 'reject_always']
  for (const kind of kinds) {
    const option = options.find((o) => o.kind === kind)
    if (option) return { outcome: { outcome: 'selected', optionId: option.optionId } }
  }
  return { outcome: { outcome: 'cancelled' } }
}
