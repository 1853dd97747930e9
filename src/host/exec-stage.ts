import { SpawnerError } from '../core/errors.ts'
import type { DockerContext } from './docker-call.ts'
import { putArchiveFile, WORKER_UID } from './docker-files.ts'
import { runHelper } from './exec-start.ts'
import { STAGE_DIR_COMMAND, stdinPath } from './exec-wrapper.ts'

/** Containers whose stdin directory was checked, per Docker context (bounded, oldest out). */
const checked = new WeakMap<DockerContext, Map<string, Promise<void>>>()
const MAX_CHECKED = 10_000

/**
 * Makes the stdin directory where it is missing (an older image) and checks it and its
 * parents are root's (see EXEC_DIR), as root, once per container: an image that left them open
 * to the worker would let it plant a link there before the first stdin arrives.
 */
const checkStageDir = (ctx: DockerContext, id: string): Promise<void> => {
  let seen = checked.get(ctx)
  if (!seen) checked.set(ctx, (seen = new Map()))
  const known = seen.get(id)
  if (known) return known
  if (seen.size >= MAX_CHECKED) seen.delete(seen.keys().next().value!)
  const check = runStageCheck(ctx, id)
  seen.set(id, check)
  check.catch(() => seen.delete(id))
  return check
}

const runStageCheck = async (ctx: DockerContext, id: string): Promise<void> => {
  const made = await runHelper(ctx, id, STAGE_DIR_COMMAND, '0:0')
  if (made.exitCode === 0) return
  const why = made.stderr.trim() || `exit ${made.exitCode}`
  ctx.logger.warn('exec stdin directory unusable', { containerId: id, reason: why })
  throw new SpawnerError('exec_stdin_dir', 500, `cannot feed stdin in this container: ${why}`)
}

/** Forgets a removed container's check. */
export const forgetStageCheck = (ctx: DockerContext, id: string): void => {
  checked.get(ctx)?.delete(id)
}

/**
 * Puts the stdin of the exec tagged `key` where its wrapper reads it (`stdinPath`), owned by
 * the worker user, who runs the command, removes the file and may read nothing else there.
 */
export const stageStdin = async (
  ctx: DockerContext,
  id: string,
  key: string,
  stdin: string,
): Promise<void> => {
  await checkStageDir(ctx, id)
  const content = new TextEncoder().encode(stdin)
  await putArchiveFile(ctx, id, {
    path: stdinPath(key),
    content,
    mode: 0o600,
    uid: WORKER_UID,
    gid: WORKER_UID,
    makeDir: () => runStageCheck(ctx, id),
  })
}
