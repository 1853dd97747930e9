import {
  BadRequestError,
  NotFoundError,
  SpawnerError,
  UnavailableError,
} from '../../core/errors.ts'
import type { FileChange, WatchRequest } from '../../core/runtime.ts'
import { badPath } from '../docker-files.ts'
import type { DaemonConnection } from './daemon-connection.ts'
import { DaemonLostError, startRequest, type DaemonEnd } from './daemon-request.ts'
import { FRAME, jsonFrame } from './frames.ts'

const TYPES = new Set(['created', 'changed', 'deleted', 'overflow'])
/** How long after a cancel the daemon has to send END before the connection goes. */
const CANCEL_GRACE_MS = 5000

/** One EVENT payload as a FileChange; one that is none is dropped. */
const changeOf = (event: Record<string, unknown>): FileChange | undefined => {
  if (typeof event.type !== 'string' || !TYPES.has(event.type)) return undefined
  const change: FileChange = { type: event.type as FileChange['type'] }
  if (typeof event.path === 'string') {
    change.path = event.path
    // As the polling fallback says it: every change of a path tells whether it is a directory.
    change.dir = event.dir === true
  }
  return change
}

/**
 * Watches a directory through the worker's daemon (see `WatchingRuntime` in core/runtime.ts):
 * resolves once `req.signal` aborts (the watch is cancelled) or the container goes away;
 * rejects when the watch cannot start (NotFoundError, BadRequestError `path_not_allowed`…),
 * and with the DaemonLostError when the daemon goes while the container may still run (the
 * caller goes on another way).
 */
export const daemonWatch = async (
  conn: DaemonConnection,
  req: WatchRequest,
  hooks: { containerGone(): Promise<boolean> },
): Promise<void> => {
  if (!req.path.startsWith('/')) throw badPath(req.path, 'must be absolute')
  if (req.signal.aborted) return
  const ended = startRequest(
    conn,
    {
      op: 'watch',
      path: req.path,
      ...(req.roots ? { roots: req.roots } : {}),
      recursive: req.recursive ?? true,
    },
    {
      event: (event) => {
        const change = changeOf(event)
        if (!change) return
        try {
          req.onChange(change)
        } catch {
          // A listener that throws loses that change, never the watch.
        }
      },
    },
  )
  let grace: NodeJS.Timeout | undefined
  const onAbort = () => {
    conn.send(jsonFrame(FRAME.CONTROL, { cancel: true }))
    grace = setTimeout(() => conn.close('no END after a cancel'), CANCEL_GRACE_MS)
  }
  req.signal.addEventListener('abort', onAbort, { once: true })
  let end: DaemonEnd
  try {
    end = await ended
  } catch (err) {
    if (req.signal.aborted) return
    if (!(err instanceof DaemonLostError)) throw err
    if (await hooks.containerGone().catch(() => false)) return
    throw err
  } finally {
    clearTimeout(grace)
    req.signal.removeEventListener('abort', onAbort)
  }
  if (end.ok) return
  throw watchError(req.path, end.error)
}

/** The error of a watch that could not start. */
const watchError = (path: string, error: { code: string; message: string }): SpawnerError => {
  switch (error.code) {
    case 'not_found':
      return new NotFoundError(`no such directory: ${path}`)
    case 'path_not_allowed':
      return badPath(path, 'resolves outside the allowed roots', 'path_not_allowed')
    case 'not_a_directory':
      return badPath(path, 'is not a directory')
    case 'permission_denied':
      return badPath(path, 'is not readable by the worker user', 'permission_denied')
    case 'busy':
      return new UnavailableError(`watching ${path}: too many watches in this worker`)
    case 'bad_request':
      return new BadRequestError(`path: ${path} ${error.message}`, [
        { path: 'path', message: error.message },
      ])
    default:
      return new SpawnerError('internal', `watching ${path} failed: ${error.message}`)
  }
}
