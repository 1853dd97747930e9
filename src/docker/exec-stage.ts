import { posix } from 'node:path'
import type { Header } from 'tar-stream'
import { SpawnerError } from '../core/errors.ts'
import { mustCall, type DockerContext } from './docker-call.ts'
import { archiveHeader, putArchiveFile, WORKER_UID } from './docker-files.ts'
import { EXEC_DIR, EXEC_DIR_CHAIN, stdinPath } from './exec-wrapper.ts'
import { packTar } from './tar.ts'

/** Containers whose stdin directory was checked, per Docker context (bounded, oldest out). */
const checked = new WeakMap<DockerContext, Map<string, Promise<void>>>()
const MAX_CHECKED = 10_000

/** Mode of the stdin directory (see EXEC_DIR) and of the directories made above it. */
const STAGE_MODE = 0o1733
const PARENT_MODE = 0o755

/**
 * Makes the stdin directory where it is missing (an older image) and checks it and its
 * parents are root's (see EXEC_DIR), once per container: an image that left them open to
 * the worker would let it plant a link there before the first stdin arrives. All through
 * the Engine's archive API, which runs nothing in the container.
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
  const missing = await firstMissing(ctx, id)
  if (!missing) return
  await makeChain(ctx, id, missing)
  const still = await firstMissing(ctx, id)
  if (still) throw unusable(ctx, id, `${still} could not be made`)
}

/**
 * Checks EXEC_DIR_CHAIN from the top and returns the first directory that is missing (its
 * parent passed the check); throws for one that is not root's and closed.
 */
const firstMissing = async (ctx: DockerContext, id: string): Promise<string | undefined> => {
  // Asked all at once (each answer is a separate Engine call), judged from the top.
  const headers = await Promise.all(EXEC_DIR_CHAIN.map((dir) => archiveHeader(ctx, id, dir)))
  for (const [i, dir] of EXEC_DIR_CHAIN.entries()) {
    const header = headers[i]
    if (!header) return dir
    const why = problemOf(dir, header)
    if (why) throw unusable(ctx, id, why)
  }
  return undefined
}

const problemOf = (dir: string, h: Header): string | undefined => {
  if (h.type !== 'directory') return `${dir} is not a directory`
  if (h.uid !== 0) return `${dir} is not owned by root`
  const mode = (h.mode ?? 0) & 0o7777
  if (dir === EXEC_DIR) {
    return mode === STAGE_MODE ? undefined : `${dir} has mode ${mode.toString(8)}, not 1733`
  }
  return mode & 0o022 ? `${dir} is writable by others` : undefined
}

/** Makes `missing` and the rest of EXEC_DIR_CHAIN below it, root's, in its checked parent. */
const makeChain = async (ctx: DockerContext, id: string, missing: string): Promise<void> => {
  const parent = posix.dirname(missing)
  const entries = EXEC_DIR_CHAIN.filter((d) => d === missing || d.startsWith(`${missing}/`)).map(
    (dir) => ({
      type: 'directory' as const,
      path: posix.relative(parent, dir),
      mode: dir === EXEC_DIR ? STAGE_MODE : PARENT_MODE,
    }),
  )
  const tar = await packTar(entries)
  const container = ctx.docker.getContainer(id)
  await mustCall(ctx, 'put archive', { containerId: id, path: parent }, () =>
    container.putArchive(tar, { path: parent }),
  )
}

const unusable = (ctx: DockerContext, id: string, why: string): SpawnerError => {
  ctx.logger.warn('exec stdin directory unusable', { containerId: id, reason: why })
  return new SpawnerError('exec_stdin_dir', `cannot feed stdin in this container: ${why}`)
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
