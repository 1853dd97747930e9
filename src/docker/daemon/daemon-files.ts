import {
  BadRequestError,
  NotFoundError,
  SpawnerError,
  UnavailableError,
} from '../../core/errors.ts'
import { badPath, tooLarge } from '../docker-files.ts'
import type { DaemonConnection } from './daemon-connection.ts'
import { DaemonLostError, sendInput, startRequest, type DaemonEnd } from './daemon-request.ts'

/** One file operation: where, within which roots, and how long it may take. */
export interface DaemonFileOp {
  /** Absolute, normalized (see `absolute` in docker-files.ts). */
  file: string
  roots: readonly string[] | undefined
  /** Past this the connection is dropped and `helper_timeout` thrown, as for the Engine path. */
  timeoutMs: number
}

/**
 * Reads a regular file as the daemon's user (the worker), with the errors of `getFile` in
 * docker-files.ts: NotFoundError, BadRequestError (not a file, `path_not_allowed`,
 * `permission_denied`), PayloadTooLargeError past `maxBytes`.
 */
export const daemonGetFile = async (
  conn: DaemonConnection,
  op: DaemonFileOp,
  maxBytes: number,
): Promise<Uint8Array> => {
  const chunks: Buffer[] = []
  let size = 0
  const end = await bounded(
    conn,
    op,
    `reading ${op.file}`,
    startRequest(
      conn,
      {
        op: 'read',
        path: op.file,
        ...(op.roots ? { roots: op.roots } : {}),
        ...(Number.isFinite(maxBytes) ? { maxBytes } : {}),
      },
      {
        stdout: (bytes) => {
          size += bytes.length
          if (size > maxBytes) throw new Error('more bytes than maxBytes')
          // A socket's chunks are never reused once read: the payload is kept as it is.
          chunks.push(bytes)
        },
      },
    ),
  )
  if (!end.ok && end.error.code === 'not_a_file' && (await isDirectory(conn, op))) {
    throw badPath(op.file, 'is a directory')
  }
  if (!end.ok) throw fileError(end, op.file, 'read', maxBytes)
  return new Uint8Array(Buffer.concat(chunks, size))
}

/** Writes a file (replacing it, parents made) as the worker, with the errors of `putFile`. */
export const daemonPutFile = async (
  conn: DaemonConnection,
  op: DaemonFileOp,
  content: Uint8Array,
  mode: number,
): Promise<void> => {
  const ended = startRequest(conn, {
    op: 'write',
    path: op.file,
    ...(op.roots ? { roots: op.roots } : {}),
    mode,
    mkdirs: true,
    size: content.byteLength,
  })
  sendInput(conn, content)
  const end = await bounded(conn, op, `writing ${op.file}`, ended)
  if (!end.ok) throw fileError(end, op.file, 'written', Number.POSITIVE_INFINITY)
}

/** Whether `op.file` is a directory (`stat` on the same connection; false when unsure). */
const isDirectory = async (conn: DaemonConnection, op: DaemonFileOp): Promise<boolean> => {
  const stat = startRequest(conn, {
    op: 'stat',
    path: op.file,
    ...(op.roots ? { roots: op.roots } : {}),
  })
  const end = await bounded(conn, op, `stat of ${op.file}`, stat).catch(() => undefined)
  return end?.ok === true && end.type === 'dir'
}

/**
 * The daemon was refused by the kernel where the Engine path may not be: it walks each
 * directory open (read permission), the Engine path's shell only by name (search
 * permission). The caller runs the operation the Engine's way instead.
 */
export class DaemonDeniedError extends Error {
  constructor(readonly file: string) {
    super(`the worker's daemon was denied ${file}`)
    this.name = this.constructor.name
  }
}

/**
 * The END of a file request, within `op.timeoutMs`: after that the connection is dropped and
 * `helper_timeout` thrown (the agent can stop its own daemon, as it can the Engine's helper).
 * A connection lost mid-request is an UnavailableError.
 */
const bounded = async (
  conn: DaemonConnection,
  op: DaemonFileOp,
  what: string,
  ended: Promise<DaemonEnd>,
): Promise<DaemonEnd> => {
  let timer: NodeJS.Timeout | undefined
  let late = false
  timer = setTimeout(() => {
    late = true
    conn.close(`${what}: no END in ${op.timeoutMs} ms`)
  }, op.timeoutMs)
  try {
    return await ended
  } catch (err) {
    if (late)
      throw new UnavailableError(
        `${what} did not finish within ${op.timeoutMs} ms`,
        'helper_timeout',
      )
    if (err instanceof DaemonLostError) {
      throw new UnavailableError(`${what}: the worker's daemon went away`, 'unavailable', {
        cause: err,
      })
    }
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** The error `getFile`/`putFile` of docker-files.ts gives for the same cause. */
const fileError = (
  end: Extract<DaemonEnd, { ok: false }>,
  file: string,
  op: 'read' | 'written',
  maxBytes: number,
): SpawnerError | DaemonDeniedError => {
  const { code, message } = end.error
  if (code === 'permission_denied') return new DaemonDeniedError(file)
  const aDirectory = /director/i.test(message)
  switch (code) {
    case 'path_not_allowed':
      return badPath(file, 'resolves outside the allowed roots', 'path_not_allowed')
    case 'not_found':
      return new NotFoundError(`no such file: ${file}`)
    case 'not_a_directory':
      // A parent that is a file: reading finds nothing there, writing cannot make it.
      return op === 'read'
        ? new NotFoundError(`no such file: ${file}`)
        : badPath(file, `cannot be written: ${message}`)
    case 'not_a_file':
      return badPath(
        file,
        aDirectory || op === 'written' ? 'is a directory' : 'is not a regular file',
      )
    case 'too_large':
      return tooLarge(file, maxBytes)
    case 'bad_request':
      return new BadRequestError(`path: ${file} ${message}`, [{ path: 'path', message }])
    default:
      return badPath(file, `cannot be ${op}: ${message}`)
  }
}
