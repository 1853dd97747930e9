import type { Command } from '../catalog.ts'
import { ForbiddenError } from '../errors.ts'
import type { WorkerService } from '../service.ts'

/**
 * Who is calling: an operator (API token, Redis), a worker (its signed token), or a worker
 * whose call another instance checked and forwarded here (`forwarded`): its tools and reach
 * were checked where it came in; the rules the service applies to workers still hold.
 */
export type Principal =
  | { kind: 'operator' }
  | { kind: 'worker'; workerId: string; tools: readonly string[] }
  | { kind: 'forwarded'; workerId: string }

/** The worker making the call, if a worker makes it. */
export const callerOf = (principal: Principal): string | undefined =>
  principal.kind === 'operator' ? undefined : principal.workerId

/** The workers a worker may reach, from a command's input (see Scope). */
const target = (cmd: Command, input: unknown): string | undefined => {
  if (cmd.scope !== 'worker') return undefined
  const id = (input as { workerId?: unknown }).workerId
  return typeof id === 'string' ? id : undefined
}

/**
 * Decides whether `principal` may run `cmd` with `input` (already validated). Operators may do
 * anything. A worker needs the command's tool in its token and may act only on itself and the
 * workers it spawned (the command's `scope`); `create` makes a sub-worker (quotas are checked
 * by the service).
 */
export const authorize = async (
  principal: Principal,
  cmd: Command,
  input: unknown,
  service: WorkerService,
): Promise<void> => {
  if (principal.kind !== 'worker') return
  if (!principal.tools.includes(cmd.permission)) {
    const allowed = principal.tools.join(', ') || 'none'
    throw new ForbiddenError(
      `worker '${principal.workerId}' lacks the tool '${cmd.permission}' (allowed: ${allowed})`,
      'tool_not_allowed',
    )
  }
  if (cmd.scope === 'spawn' || cmd.scope === 'listing') return
  const id = target(cmd, input)
  if (id === undefined) throw new ForbiddenError(`'${cmd.name}' is for operators only`)
  if (!(await service.isWithin(id, principal.workerId))) {
    throw new ForbiddenError(
      `worker '${principal.workerId}' may act only on itself and the workers it spawned, ` +
        `not '${id}'`,
      'not_your_worker',
    )
  }
}

/**
 * What of `output` the caller may see: a worker sees itself and the workers it spawned in a
 * `listing` command's list; everything else is returned whole.
 */
export const visibleOutput = async (
  principal: Principal,
  cmd: Command,
  output: unknown,
  service: WorkerService,
): Promise<unknown> => {
  const caller = callerOf(principal)
  if (!caller || cmd.scope !== 'listing' || !cmd.lists) return output
  const all = (output as Record<string, { workerId: string }[]>)[cmd.lists] ?? []
  const within = (id: string) => service.isWithin(id, caller).catch(() => false)
  const mine = await Promise.all(all.map((w) => within(w.workerId)))
  return { ...(output as object), [cmd.lists]: all.filter((_, i) => mine[i]) }
}
