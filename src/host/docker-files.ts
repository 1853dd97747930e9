import { posix } from 'node:path'
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../core/errors.ts'
import { dockerCall, mustCall, type DockerContext } from './docker-call.ts'
import { dockerMessage, dockerStatus } from './docker-errors.ts'
import { runHelper } from './exec-start.ts'
import { packTar, readSingleFile } from './tar.ts'

/** Options of `putFile`; `mkdirMode` is for internal directories such as the exec dir. */
export interface PutFileOptions {
  mode?: number
  uid?: number
  gid?: number
  mkdirMode?: number
}

const absolute = (path: string): string => {
  if (!path.startsWith('/')) throw new BadRequestError(`path must be absolute: ${path}`)
  const normal = posix.normalize(path)
  if (normal === '/' || normal.endsWith('/')) throw new BadRequestError(`not a file path: ${path}`)
  return normal
}

/**
 * Writes one file through `putArchive`, binary-safe. The archive holds only the file, so an
 * existing parent keeps its owner and mode. A missing parent (404) is made with `mkdir -p`
 * as the file's owner, then the write is tried once more.
 */
export const putFile = async (
  ctx: DockerContext,
  id: string,
  path: string,
  content: Uint8Array,
  opts: PutFileOptions = {},
): Promise<void> => {
  const file = absolute(path)
  const dir = posix.dirname(file)
  const { mode = 0o644, uid = 1000, gid = 1000 } = opts
  const tar = await packTar([{ path: posix.basename(file), content, mode, uid, gid }])
  const container = ctx.docker.getContainer(id)
  const fields = { containerId: id, path: file, bytes: content.byteLength }
  const put = () => container.putArchive(tar, { path: dir })
  let missingDir = false
  await dockerCall(ctx, 'put archive', fields, put, (err) => {
    missingDir = dockerStatus(err) === 404 && !isNoSuchContainer(err)
    return missingDir
  })
  if (!missingDir) return
  const modeArgs = opts.mkdirMode === undefined ? [] : ['-m', opts.mkdirMode.toString(8)]
  const made = await runHelper(ctx, id, ['mkdir', '-p', ...modeArgs, '--', dir], `${uid}:${gid}`)
  if (made.exitCode !== 0) {
    throw new BadRequestError(
      `cannot create ${dir}: ${made.stderr.trim() || `exit ${made.exitCode}`}`,
    )
  }
  await mustCall(ctx, 'put archive', fields, put)
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

/**
 * Reads one regular file through `getArchive`. A symlink is followed once. Throws
 * NotFoundError for a missing path, BadRequestError for a directory, and
 * PayloadTooLargeError past `maxBytes` (from the path stat when the Engine sends it).
 */
export const getFile = async (
  ctx: DockerContext,
  id: string,
  path: string,
  opts: { maxBytes?: number } = {},
): Promise<Uint8Array> => {
  const file = absolute(path)
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
  let target = file
  for (let hop = 0; hop < 2; hop++) {
    const stream = await fetchArchive(ctx, id, target, file)
    const stat = readStat((stream as { headers?: Record<string, unknown> }).headers)
    const isDir = stat.mode !== undefined && Math.floor(stat.mode / MODE_DIR) % 2 === 1
    if (isDir) {
      stream.destroy?.()
      throw new BadRequestError(`${file} is a directory`)
    }
    if (!stat.linkTarget && stat.size !== undefined && stat.size > maxBytes) {
      stream.destroy?.()
      throw new PayloadTooLargeError(`${file} is larger than ${maxBytes} bytes`)
    }
    const item = await readSingleFile(stream, { maxBytes, label: file })
    if (item.type === 'file') return item.content
    if (item.type === 'directory') throw new BadRequestError(`${file} is a directory`)
    if (item.type === 'symlink' && stat.linkTarget) {
      target = stat.linkTarget
      continue
    }
    break
  }
  throw new BadRequestError(`${file} is not a regular file`)
}

const fetchArchive = async (ctx: DockerContext, id: string, path: string, asked: string) => {
  try {
    return (await mustCall(ctx, 'get archive', { containerId: id, path }, () =>
      ctx.docker.getContainer(id).getArchive({ path }),
    )) as NodeJS.ReadableStream & { destroy?: () => void }
  } catch (err) {
    if (err instanceof NotFoundError && !/no such container/i.test(err.message)) {
      throw new NotFoundError(`no such file: ${asked}`)
    }
    throw err
  }
}
