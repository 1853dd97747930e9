import { BadRequestError } from './errors.ts'

/** Longest file name and path Linux file systems take (NAME_MAX, PATH_MAX), in bytes. */
const NAME_MAX = 255
const PATH_MAX = 4096

const bytes = (s: string) => new TextEncoder().encode(s).length

/** Directories a worker's files may live under, besides its workdir. */
export const EXTRA_FILE_ROOTS = ['/tmp', '/home/worker'] as const

/**
 * Normalises a container path and checks it stays under one of `roots`. Relative paths, `..`
 * escapes and NUL bytes are refused; `.` and repeated slashes are folded away.
 */
export const resolveFilePath = (path: string, roots: readonly string[], field = 'path'): string => {
  if (typeof path !== 'string' || path.length === 0) {
    throw new BadRequestError(`${field}: required`, [{ path: field, message: 'required' }])
  }
  if (path.includes('\0')) {
    throw new BadRequestError(`${field}: must not contain NUL`, [{ path: field, message: 'NUL byte' }])
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
  // Longer names fail inside the engine (a 500 there), far from the field that caused it.
  if (parts.some((p) => bytes(p) > NAME_MAX)) {
    throw new BadRequestError(`${field}: a name in it is longer than ${NAME_MAX} bytes`, [
      { path: field, message: `name longer than ${NAME_MAX} bytes` },
    ])
  }
  const normalised = '/' + parts.join('/')
  if (bytes(normalised) > PATH_MAX) {
    throw new BadRequestError(`${field}: longer than ${PATH_MAX} bytes`, [{ path: field, message: `longer than ${PATH_MAX} bytes` }])
  }
  const inside = roots.some((root) => {
    const r = root.endsWith('/') ? root.slice(0, -1) : root
    return normalised.startsWith(r + '/')
  })
  if (!inside) throw outside(path, roots, field)
  return normalised
}

const outside = (path: string, roots: readonly string[], field: string) =>
  new BadRequestError(`${field}: '${path}' is outside the allowed roots (${roots.join(', ')})`, [
    { path: field, message: 'outside the allowed roots' },
  ], 'path_not_allowed')

/** Joins a WorkerConfig `files` key (absolute, or relative to workdir) to an absolute path. */
export const configFilePath = (key: string, workdir: string): string =>
  key.startsWith('/') ? key : `${workdir.replace(/\/$/, '')}/${key}`
