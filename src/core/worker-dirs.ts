import type { z } from 'zod'
import type { ActivityGuard } from './activity.ts'
import type { CoreContext } from './context.ts'
import { BadRequestError, NotFoundError, SpawnerError } from './errors.ts'
import { fileRoots, resolveFilePath } from './paths.ts'
import type * as S from './schemas.ts'
import type { WorkerStore } from './worker-store.ts'

type Listing = z.output<typeof S.listFilesOutput>
type Entry = Listing['entries'][number]

/** Exit codes of the listing script; others are failures of the tools it runs. */
export const LIST_EXIT = { notAllowed: 80, notFound: 81, notDir: 82, denied: 85 } as const

/** How long a listing may run: the agent can stop it (it runs as the agent's user). */
const LIST_TIMEOUT_MS = 30_000

/** The most a record can take in bytes: a path's worth of link target, a name, the fields. */
const RECORD_BYTES = 4096 + 255 + 64

/**
 * The listing, run in the container as the worker user. The path and the roots are resolved
 * there (links the worker planted count for what they point to); the directory is then
 * entered and its real path checked again, so a link swapped in meanwhile lists nothing
 * outside the roots. `find` prints each entry as `type linktype size mtime mode name\0` and the
 * link target `\0`; `head` stops it after `max + 1` entries (the extra one says "truncated")
 * without reading the rest of a huge directory. Programs go by absolute path, with a clean
 * environment: the agent owns directories on the container's PATH.
 */
/**
 * `inside PATH ROOT…`: whether PATH (resolved) lies in one of the roots (resolved), in sh; the
 * `$(… && echo .)` keeps a trailing newline of a name from being cut.
 */
export const INSIDE_ROOTS_SH = [
  'inside() {',
  '  p=$1; shift',
  '  for r do',
  '    r=$(/usr/bin/realpath -m -- "$r" && echo .) || continue',
  '    r=${r%??}',
  '    case $p in "$r" | "${r%/}"/?*) return 0 ;; esac',
  '  done',
  '  return 1',
  '}',
]

const SCRIPT = [
  ...INSIDE_ROOTS_SH,
  't=$(/usr/bin/realpath -m -- "$1" && echo .) || exit 1',
  't=${t%??}',
  'max=$2',
  'shift 2',
  `inside "$t" "$@" || exit ${LIST_EXIT.notAllowed}`,
  `[ -e "$t" ] || exit ${LIST_EXIT.notFound}`,
  `[ -d "$t" ] || exit ${LIST_EXIT.notDir}`,
  `cd -P -- "$t" 2>/dev/null && [ -r . ] || exit ${LIST_EXIT.denied}`,
  'here=$(pwd -P && echo .) || exit 1',
  `inside "\${here%??}" "$@" || exit ${LIST_EXIT.notAllowed}`,
  "/usr/bin/find . -mindepth 1 -maxdepth 1 -printf '%y %Y %s %T@ %m %P\\0%l\\0' 2>/dev/null |",
  '  /usr/bin/head -z -n "$((2 * max + 2))"',
].join('\n')

/** The argv that lists `path` (at most `max` entries, plus one) if it lies inside `roots`. */
export const listDirCommand = (path: string, max: number, roots: readonly string[]): string[] => [
  '/usr/bin/env',
  '-i',
  'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
  'LC_ALL=C',
  '/bin/sh',
  '-c',
  SCRIPT,
  'ws-ls',
  path,
  String(max),
  ...roots,
]

const TYPES: Record<string, Entry['type']> = { f: 'file', d: 'dir', l: 'symlink' }
const TARGET_TYPES: Record<string, NonNullable<Entry['targetType']>> = {
  f: 'file',
  d: 'dir',
  N: 'missing',
  L: 'loop',
}

/**
 * Reads the script's output into entries, sorted directories first, then by name. More than
 * `max` entries, or output cut short, is `truncated` (a record cut in half is dropped).
 */
export const parseListing = (
  stdout: string,
  max: number,
  cut = false,
): { entries: Entry[]; truncated: boolean } => {
  // Every field ends in a NUL: what follows the last one, or an entry's lone first field, is
  // output cut short.
  const fields = stdout.split('\0')
  let truncated = cut || fields.pop() !== '' || fields.length % 2 === 1
  const entries: Entry[] = []
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const head = fields[i]!
    const target = fields[i + 1]!
    const m = /^(\S) (\S) (\d+) (-?\d+(?:\.\d+)?) ([0-7]+) ([^]*)$/.exec(head)
    if (!m) continue
    if (entries.length === max) {
      truncated = true
      break
    }
    const type = TYPES[m[1]!] ?? 'other'
    const entry: Entry = {
      name: m[6]!,
      type,
      size: Number(m[3]),
      mtime: new Date(Math.round(Number(m[4]) * 1000)).toISOString(),
      mode: m[5]!.padStart(4, '0'),
    }
    if (type === 'symlink') {
      entry.target = target
      entry.targetType = TARGET_TYPES[m[2]!] ?? 'other'
    }
    entries.push(entry)
  }
  entries.sort(
    (a, b) =>
      Number(isDir(b)) - Number(isDir(a)) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
  return { entries, truncated }
}

const isDir = (e: Entry) => e.type === 'dir' || e.targetType === 'dir'

/**
 * Directory listings in workers (`list_files`): as the worker user, inside the container, under
 * the same roots as `read_file` (the roots themselves included), at most `limit` entries.
 */
export class WorkerDirs {
  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly guard: ActivityGuard,
  ) {}

  async list(input: z.output<typeof S.listFilesInput>): Promise<Listing> {
    const record = await this.store.get(input.workerId)
    const roots = fileRoots(record.workdir)
    const path = resolveDirPath(input.path ?? record.workdir, roots)
    const max = input.limit
    const result = await this.guard.active(record, () =>
      this.ctx.runtime.exec(record.containerId, {
        argv: listDirCommand(path, max, roots),
        // The loader reads these before `env -i` runs; the container's values are the agent's.
        env: { LD_PRELOAD: '', LD_LIBRARY_PATH: '', LD_AUDIT: '' },
        timeoutMs: LIST_TIMEOUT_MS,
        maxOutputBytes: (max + 1) * RECORD_BYTES,
      }),
    )
    if (result.exitCode !== 0) throw listError(result.exitCode, result.stderr, path)
    return { path, ...parseListing(result.stdout, max, result.truncated === true) }
  }
}

/**
 * `resolveFilePath`, except that a root itself is a directory one may list: the path is
 * normalised first (`/workspace/.` is the workdir), then must be a root or lie under one.
 */
export const resolveDirPath = (raw: string, roots: readonly string[]): string => {
  const path = resolveFilePath(raw, ['/'])
  const inside = roots.some((root) => {
    const r = root.replace(/\/$/, '')
    return path === r || path.startsWith(r + '/')
  })
  if (inside) return path
  throw new BadRequestError(
    `path: '${raw}' is outside the allowed roots (${roots.join(', ')})`,
    [{ path: 'path', message: 'outside the allowed roots' }],
    'path_not_allowed',
  )
}

const badPath = (path: string, message: string, code?: 'path_not_allowed' | 'permission_denied') =>
  new BadRequestError(`path: ${path} ${message}`, [{ path: 'path', message }], code)

const listError = (exitCode: number, stderr: string, path: string): SpawnerError => {
  switch (exitCode) {
    case LIST_EXIT.notAllowed:
      return badPath(path, 'resolves outside the allowed roots', 'path_not_allowed')
    case LIST_EXIT.notFound:
      return new NotFoundError(`no such directory: ${path}`)
    case LIST_EXIT.notDir:
      return badPath(path, 'is not a directory')
    case LIST_EXIT.denied:
      return badPath(path, 'is not readable by the worker user', 'permission_denied')
    default: {
      const why = stderr.trim().split('\n').pop() || `exit ${exitCode}`
      return badPath(path, `cannot be listed: ${why}`)
    }
  }
}
