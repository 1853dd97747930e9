import { BadRequestError } from './errors.ts'

/** Longest file name and path Linux file systems take (NAME_MAX, PATH_MAX), in bytes. */
const NAME_MAX = 255
const PATH_MAX = 4096
/** Levels below `/`: the engine stops walking a path at 255 steps, its own prefix included. */
const MAX_DEPTH = 128

const bytes = (s: string) => new TextEncoder().encode(s).length

/** A UTF-16 half without its other half: text no UTF-8 name or value can hold. */
const LONE_SURROGATE = /\p{Cs}/u

/** True when `text` holds a lone surrogate. */
export const hasLoneSurrogate = (text: string) => LONE_SURROGATE.test(text)

/** Directories a worker's files may live under, besides its workdir. */
export const EXTRA_FILE_ROOTS = ['/tmp', '/home/worker'] as const

/** Directories a worker with this workdir may have files under. */
export const fileRoots = (workdir: string): string[] => [workdir, ...EXTRA_FILE_ROOTS]

/**
 * Normalises a container path and checks it stays under one of `roots`. Relative paths, `..`
 * escapes and NUL bytes are refused; `.` and repeated slashes are folded away.
 */
export const resolveFilePath = (path: string, roots: readonly string[], field = 'path'): string => {
  if (typeof path !== 'string' || path.length === 0) {
    throw new BadRequestError(`${field}: required`, [{ path: field, message: 'required' }])
  }
  if (path.includes('\0')) {
    throw new BadRequestError(`${field}: must not contain NUL`, [
      { path: field, message: 'NUL byte' },
    ])
  }
  if (hasLoneSurrogate(path)) {
    throw new BadRequestError(`${field}: not well-formed Unicode (a lone surrogate)`, [
      { path: field, message: 'lone surrogate' },
    ])
  }
  if (!path.startsWith('/')) {
    throw new BadRequestError(`${field}: '${path}' must be an absolute path`, [
      { path: field, message: 'must be an absolute path' },
    ])
  }
  const parts: string[] = []
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') {
      if (parts.length === 0) throw outside(path, roots, field)
      parts.pop()
      continue
    }
    parts.push(seg)
  }
  const normalised = '/' + parts.join('/')
  assertPathLimits(normalised, field)
  const inside = roots.some((root) => {
    const r = root.endsWith('/') ? root.slice(0, -1) : root
    return normalised.startsWith(r + '/')
  })
  if (!inside) throw outside(path, roots, field)
  return normalised
}

/**
 * Refuses an absolute path that no container file system takes: a lone surrogate, a name over
 * 255 bytes, over 4096 bytes in all, or more than 128 levels deep. Such paths fail inside the engine, as a
 * 500 far from the field that caused them.
 */
export const assertPathLimits = (path: string, field: string) => {
  const parts = path.split('/').filter((p) => p !== '')
  const refuse = (message: string) =>
    new BadRequestError(`${field}: ${message}`, [{ path: field, message }])
  if (hasLoneSurrogate(path)) throw refuse('not well-formed Unicode (a lone surrogate)')
  if (parts.some((p) => bytes(p) > NAME_MAX))
    throw refuse(`a name in it is longer than ${NAME_MAX} bytes`)
  if (bytes(path) > PATH_MAX) throw refuse(`longer than ${PATH_MAX} bytes`)
  if (parts.length > MAX_DEPTH) throw refuse(`deeper than ${MAX_DEPTH} levels`)
}

const outside = (path: string, roots: readonly string[], field: string) =>
  new BadRequestError(
    `${field}: '${path}' is outside the allowed roots (${roots.join(', ')})`,
    [{ path: field, message: 'outside the allowed roots' }],
    'path_not_allowed',
  )

/** Joins a WorkerConfig `files` key (absolute, or relative to workdir) to an absolute path. */
export const configFilePath = (key: string, workdir: string): string =>
  key.startsWith('/') ? key : `${workdir.replace(/\/$/, '')}/${key}`
