import type { Command } from '../catalog.ts'
import { ForbiddenError } from '../errors.ts'
import type { WorkerService } from '../service.ts'

/** Who is calling: an operator (API token, Redis) or a worker (its signed token). */
export type Principal = { kind: 'operator' } | { kind: 'worker'; workerId: string; tools: readonly string[] }

/**
 * Decides whether `principal` may run `cmd` with `input`. Operators may do anything. A worker
 * needs the command's tool in its token and may act only on itself and the workers it
 * spawned; `create` makes a sub-worker (quotas are checked by the service).
 */
export const authorize = async (
  principal: Principal,
  cmd: Command,
  input: unknown,
  service: WorkerService,
): Promise<void> => {
  if (principal.kind === 'operator') return
  if (!principal.tools.includes(cmd.permission)) {
    throw new ForbiddenError(
      `worker '${principal.workerId}' lacks the tool '${cmd.permission}' (allowed: ${principal.tools.join(', ') || 'none'})`,
      'tool_not_allowed',
    )
  }
  const target = (input as { workerId?: unknown }).workerId
  if (typeof target !== 'string') {
    if (cmd.name === 'create' || cmd.name === 'list') return
    throw new ForbiddenError(`'${cmd.name}' is for operators only`)
  }
  if (!(await service.isWithin(target, principal.workerId))) {
    throw new ForbiddenError(
      `worker '${principal.workerId}' may act only on itself and the workers it spawned, not '${target}'`,
      'not_your_worker',
    )
  }
}
