import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  SpawnerError,
  UnavailableError,
} from '../core/errors.ts'

/** What dockerode / docker-modem / node:net put on a thrown error (none of it is typed). */
export interface DockerCallError {
  message?: string
  code?: string
  address?: string
  port?: number
  statusCode?: number
  json?: unknown
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'EPERM',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

const asCallError = (err: unknown): DockerCallError =>
  typeof err === 'object' && err !== null ? (err as DockerCallError) : { message: String(err) }

/** The HTTP status of a failed Engine API call, if it got that far. */
export const dockerStatus = (err: unknown): number | undefined => asCallError(err).statusCode

/**
 * The engine's own message for a failed call (`No such container: 3f2a…`), without
 * docker-modem's `(HTTP code 404) …` wrapping.
 */
export const dockerMessage = (err: unknown): string => {
  const e = asCallError(err)
  const json = e.json
  if (typeof json === 'object' && json !== null && 'message' in json) {
    const message = (json as { message: unknown }).message
    if (typeof message === 'string' && message.trim()) return message.trim()
  }
  if (json instanceof Uint8Array && json.length > 0)
    return Buffer.from(json).toString('utf8').trim()
  const raw = (e.message ?? 'unknown error').trim()
  const wrapped = /^\(HTTP code \d+\) [^-]*- (.*)$/s.exec(raw)
  return (wrapped?.[1] ?? raw).trim()
}

/** True when the error says the engine itself could not be reached. */
export const isUnreachable = (err: unknown): boolean => {
  const e = asCallError(err)
  return e.statusCode === undefined && e.code !== undefined && UNREACHABLE.has(e.code)
}

const short = (text: string, max = 300): string =>
  text.length > max ? `${text.slice(0, max)}…` : text

/**
 * Maps a dockerode failure onto the spawner's error classes: engine unreachable → 503
 * naming `target`; 404 → NotFoundError; 409 → ConflictError; anything else → a 502
 * `docker_error` with the engine's short message (never a stack or a raw body). The failure
 * itself is the `cause`, for the logs.
 */
export const toDockerError = (err: unknown, target: string): SpawnerError => {
  if (err instanceof SpawnerError) return err
  const e = asCallError(err)
  if (isUnreachable(err)) {
    const where = e.address?.startsWith('/') ? `unix://${e.address}` : target
    const message = `Docker Engine not reachable at ${where} (${e.code})`
    return new UnavailableError(message, 'unavailable', { cause: err })
  }
  const message = short(dockerMessage(err))
  const cause = { cause: err }
  if (e.statusCode === 404) return new NotFoundError(message, 'not_found', cause)
  if (e.statusCode === 409) return new ConflictError(message, 'conflict', cause)
  return new SpawnerError('docker_error', `docker: ${message}`, cause)
}

/** Which WorkerConfig field an Engine refusal of a container's settings is about. */
const SETTING_FIELDS: [RegExp, string][] = [
  [/cpu/i, 'resources.cpus'],
  [/memory|swap/i, 'resources.memoryMb'],
  [/pids/i, 'resources.pids'],
]

/**
 * The Engine answers 400 when a container's settings cannot work on this host (more CPUs than
 * it has, too little memory): the caller's input, so a 400 naming the field, not a 502.
 * Undefined for any other failure.
 */
export const createRefusal = (err: unknown): BadRequestError | undefined => {
  if (dockerStatus(err) !== 400) return undefined
  const message = short(dockerMessage(err))
  const path = SETTING_FIELDS.find(([re]) => re.test(message))?.[1] ?? 'config'
  return new BadRequestError(
    `${path}: the Docker Engine refused it: ${message}`,
    [{ path, message }],
    'bad_request',
    { cause: err },
  )
}

/** What the OCI runtime says when a working directory cannot be made in the image. */
const WORKDIR_FAILURES = [
  'not a directory',
  'read-only file system',
  'no such file or directory',
  'file name too long',
  'too many links',
  'permission denied',
]

/**
 * The engine fails a container's start when its working directory cannot be made in the image
 * (under a file, on /sys or /proc): the caller's `workdir`, so a 400 naming it, without the
 * engine's host paths. Undefined for any other failure.
 */
export const workdirRefusal = (err: unknown, workdir: string): BadRequestError | undefined => {
  if (err instanceof SpawnerError) return undefined
  const message = dockerMessage(err)
  // The path named is the workdir, a directory above it, or the workdir under the engine's root.
  const paths = message.match(/\/[^\s:"']*/g) ?? []
  const aboutWorkdir = paths.some(
    (p) => p === workdir || workdir.startsWith(`${p}/`) || p.endsWith(workdir),
  )
  const reason = WORKDIR_FAILURES.find((r) => message.includes(r))
  if (!aboutWorkdir || !reason) return undefined
  return new BadRequestError(
    `workdir: '${workdir}' cannot be made in the worker's image (${reason})`,
    [{ path: 'workdir', message: reason }],
    'bad_request',
    { cause: err },
  )
}
