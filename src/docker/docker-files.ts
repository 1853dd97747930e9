import { posix } from 'node:path'
import { extract, type Header } from 'tar-stream'
import {
  BadRequestError,
  NotFoundError,
  PayloadTooLargeError,
  SpawnerError,
  type CodeOf,
} from '../core/errors.ts'
import type { FileAccess, GetFileOptions, PutFileOptions } from '../core/runtime.ts'
import { dockerCall, mustCall, type DockerContext } from './docker-call.ts'
import { dockerMessage, dockerStatus } from './docker-errors.ts'
import { runBytes } from './exec-bytes.ts'
import { FILE_EXIT, getFileCommand, putFileCommand } from './exec-file-scripts.ts'
import { helperTimeout } from './exec-helper.ts'
import { packTar, readSingleFile } from './tar.ts'

/** The worker user, whom files are read and written as unless the caller says otherwise. */
export const WORKER_UID = 1000

/** `path` normalized; a BadRequestError unless it is an absolute file path. */
export const absolute = (path: string): string => {
  if (!path.startsWith('/')) throw new BadRequestError(`path must be absolute: ${path}`)
  const normal = posix.normalize(path)
  if (normal === '/' || normal.endsWith('/')) throw new BadRequestError(`not a file path: ${path}`)
  return normal
}

/** The roots to check against; a BadRequestError unless absolute, at least one. */
export const rootsOf = (opts: FileAccess): readonly string[] | undefined => {
  const { roots } = opts
  if (roots === undefined) return undefined
  if (roots.length === 0 || roots.some((r) => !r.startsWith('/'))) {
    throw new BadRequestError('roots: absolute directories, at least one')
  }
  return roots
}

/** Who does the work; gid defaults to uid. `user` is the exec's `uid:gid`. */
export const userOf = (opts: FileAccess) => {
  const uid = opts.uid ?? WORKER_UID
  const gid = opts.gid ?? uid
  return { uid, gid, user: `${uid}:${gid}` }
}

/** Root works through the archive API, where links the worker planted must not matter. */
export const rootOnly = (uid: number, opts: FileAccess): boolean => {
  if (uid !== 0) return false
  if (opts.roots) throw new BadRequestError('roots: not with uid 0')
  return true
}

/**
 * Writes one file, binary-safe. As a non-root user (see `FileAccess` in core/runtime.ts) the
 * bytes are streamed into `putFileCommand` run as that user; as root through `putArchive`.
 */
export const putFile = async (
  ctx: DockerContext,
  id: string,
  path: string,
  content: Uint8Array,
  opts: PutFileOptions = {},
): Promise<void> => {
  const file = absolute(path)
  const roots = rootsOf(opts)
  const { uid, gid, user } = userOf(opts)
  const mode = opts.mode ?? 0o644
  if (rootOnly(uid, opts)) {
    const makeDir = mkdirAsRoot(ctx, id)
    return putArchiveFile(ctx, id, { path: file, content, mode, uid, gid, makeDir })
  }
  const cmd = putFileCommand(file, mode, roots)
  const timeoutMs = helperTimeout(ctx, 'fileMs')
  const what = `writing ${file}`
  const result = await runBytes(ctx, id, { cmd, user, what, timeoutMs, stdin: content })
  if (result.exitCode !== 0) throw fileError(result.exitCode, result.stderr, file, 'written')
}

/**
 * Reads one regular file. As a non-root user (see `FileAccess`) the file is printed by
 * `getFileCommand` run as that user and nothing past `maxBytes` is read; as root through
 * `getArchive`, refusing a link. Throws NotFoundError for a missing path, BadRequestError for
 * a directory or other non-file, and PayloadTooLargeError past `maxBytes`.
 */
export const getFile = async (
  ctx: DockerContext,
  id: string,
  path: string,
  opts: GetFileOptions = {},
): Promise<Uint8Array> => {
  const file = absolute(path)
  const roots = rootsOf(opts)
  const { uid, user } = userOf(opts)
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
  if (rootOnly(uid, opts)) return getArchiveFile(ctx, id, file, maxBytes)
  const capped = Number.isFinite(maxBytes) ? maxBytes : undefined
  const cmd = getFileCommand(file, capped, roots)
  const timeoutMs = helperTimeout(ctx, 'fileMs')
  const what = `reading ${file}`
  const result = await runBytes(ctx, id, { cmd, user, what, timeoutMs, maxStdout: maxBytes + 1 })
  if (result.exitCode === FILE_EXIT.tooLarge || result.stdoutBytes > maxBytes) {
    throw tooLarge(file, maxBytes)
  }
  if (result.exitCode !== 0) throw fileError(result.exitCode, result.stderr, file, 'read')
  return result.stdout
}

/** The PayloadTooLargeError of a file past `maxBytes`. */
export const tooLarge = (file: string, maxBytes: number) =>
  new PayloadTooLargeError(`${file} is larger than ${maxBytes} bytes`)

/** A BadRequestError about the `path` field. */
export const badPath = (file: string, message: string, code?: CodeOf<'bad_request'>) =>
  new BadRequestError(`path: ${file} ${message}`, [{ path: 'path', message }], code)

/** The error for a file script's exit code (see `FILE_EXIT`). */
const fileError = (exitCode: number, stderr: string, file: string, op: 'read' | 'written') => {
  switch (exitCode) {
    case FILE_EXIT.notAllowed:
      return badPath(file, 'resolves outside the allowed roots', 'path_not_allowed')
    case FILE_EXIT.notFound:
      return new NotFoundError(`no such file: ${file}`)
    case FILE_EXIT.directory:
      return badPath(file, 'is a directory')
    case FILE_EXIT.notRegular:
      return badPath(file, 'is not a regular file')
    case FILE_EXIT.denied:
      return badPath(file, 'is not readable by the worker user', 'permission_denied')
    default: {
      const why = stderr.trim().split('\n').pop() || `exit ${exitCode}`
      return badPath(file, `cannot be ${op}: ${why}`)
    }
  }
}

/** A file to put with `putArchive`, and how to make its directory when that is missing. */
export interface ArchiveFile {
  path: string
  content: Uint8Array
  mode: number
  uid: number
  gid: number
  /** Called once when the Engine says the directory is missing; the put is then retried. */
  makeDir: (dir: string) => Promise<void>
}

/**
 * Writes one file through `putArchive`, as the Engine (root) does it: only for directories
 * the worker cannot change. The archive holds only the file, so the directory keeps its owner
 * and mode.
 */
export const putArchiveFile = async (ctx: DockerContext, id: string, f: ArchiveFile) => {
  const dir = posix.dirname(f.path)
  const entry = { path: posix.basename(f.path), content: f.content, mode: f.mode }
  const tar = await packTar([{ ...entry, uid: f.uid, gid: f.gid }])
  const container = ctx.docker.getContainer(id)
  const fields = { containerId: id, path: f.path, bytes: f.content.byteLength }
  const put = () => container.putArchive(tar, { path: dir })
  let missingDir = false
  await dockerCall(ctx, 'put archive', fields, put, (err) => {
    missingDir = dockerStatus(err) === 404 && !isNoSuchContainer(err)
    return missingDir
  })
  if (!missingDir) return
  await f.makeDir(dir)
  await mustCall(ctx, 'put archive', fields, put)
}

/**
 * `mkdir -p` as root (mode 0755), for a root-owned file whose directory is missing: through
 * the archive API, into the deepest directory that exists, so nothing runs in the container.
 */
const mkdirAsRoot = (ctx: DockerContext, id: string) => async (dir: string) => {
  const missing: string[] = []
  let at = dir
  while (at !== '/' && !(await archiveHeader(ctx, id, at))) {
    missing.unshift(posix.basename(at))
    at = posix.dirname(at)
  }
  if (missing.length === 0) return
  const entries = missing.map((_, i) => ({
    type: 'directory' as const,
    path: missing.slice(0, i + 1).join('/'),
    mode: 0o755,
  }))
  const tar = await packTar(entries)
  const container = ctx.docker.getContainer(id)
  await mustCall(ctx, 'put archive', { containerId: id, path: at }, () =>
    container.putArchive(tar, { path: at }),
  )
}

/**
 * The tar header of `path` itself as `getArchive` gives it (a link is not followed), or
 * undefined when it does not exist. Only the first header is read.
 */
export const archiveHeader = async (
  ctx: DockerContext,
  id: string,
  path: string,
): Promise<Header | undefined> => {
  const container = ctx.docker.getContainer(id)
  const missing = (err: unknown) => dockerStatus(err) === 404 && !isNoSuchContainer(err)
  const source = (await dockerCall(
    ctx,
    'get archive',
    { containerId: id, path },
    () => container.getArchive({ path }),
    missing,
  )) as (NodeJS.ReadableStream & { destroy(): void }) | undefined
  if (!source) return undefined
  const ex = extract()
  source.on('error', (err: Error) => ex.destroy(err))
  source.pipe(ex)
  try {
    for await (const entry of ex) return entry.header
    throw new Error('empty archive')
  } catch (err) {
    throw new SpawnerError('docker_error', `docker: unreadable archive of ${path}: ${err}`, {
      cause: err,
    })
  } finally {
    source.destroy()
    ex.destroy()
  }
}

/** What the Engine says about an archived path (`X-Docker-Container-Path-Stat`). */
interface PathStat {
  size?: number
  mode?: number
  linkTarget?: string
}

const MODE_DIR = 2 ** 31

const readStat = (headers: Record<string, unknown> | undefined): PathStat => {
  const raw = headers?.['x-docker-container-path-stat']
  if (typeof raw !== 'string') return {}
  try {
    return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as PathStat
  } catch {
    return {}
  }
}

const isNoSuchContainer = (err: unknown): boolean => /no such container/i.test(dockerMessage(err))

/** Reads a root-owned regular file through `getArchive`; a link is not followed. */
const getArchiveFile = async (
  ctx: DockerContext,
  id: string,
  file: string,
  maxBytes: number,
): Promise<Uint8Array> => {
  const stream = await fetchArchive(ctx, id, file)
  const stat = readStat((stream as { headers?: Record<string, unknown> }).headers)
  const isDir = stat.mode !== undefined && Math.floor(stat.mode / MODE_DIR) % 2 === 1
  if (isDir) {
    stream.destroy?.()
    throw new BadRequestError(`${file} is a directory`)
  }
  if (!stat.linkTarget && stat.size !== undefined && stat.size > maxBytes) {
    stream.destroy?.()
    throw tooLarge(file, maxBytes)
  }
  const item = await readSingleFile(stream, { maxBytes, label: file })
  if (item.type === 'file') return item.content
  if (item.type === 'directory') throw new BadRequestError(`${file} is a directory`)
  throw new BadRequestError(`${file} is not a regular file`)
}

const fetchArchive = async (ctx: DockerContext, id: string, path: string) => {
  try {
    return (await mustCall(ctx, 'get archive', { containerId: id, path }, () =>
      ctx.docker.getContainer(id).getArchive({ path }),
    )) as NodeJS.ReadableStream & { destroy?: () => void }
  } catch (err) {
    if (err instanceof NotFoundError && !/no such container/i.test(err.message)) {
      throw new NotFoundError(`no such file: ${path}`, 'not_found', { cause: err })
    }
    throw err
  }
}
