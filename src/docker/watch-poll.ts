import { posix } from 'node:path'
import { INSIDE_ROOTS_SH } from '../core/worker-dirs.ts'
import {
  BadRequestError,
  NotFoundError,
  UnavailableError,
  type SpawnerError,
} from '../core/errors.ts'
import type { FileChange, WatchRequest } from '../core/runtime.ts'
import { dockerCall, type DockerContext } from './docker-call.ts'
import { dockerStatus } from './docker-errors.ts'
import { pipeExec } from './docker-pipe.ts'
import { WORKER_UID } from './docker-files.ts'

/** Bounds of a polled watch. */
export interface PollLimits {
  /** Entries a snapshot holds; past it the watch reports `overflow` until it shrinks again. */
  maxEntries: number
  /** Bytes of one snapshot, past which it counts as too many entries too. */
  maxSnapshotBytes: number
  /** Seconds between snapshots (whole seconds: `timeout` waits that long). */
  intervalSeconds: number
  /**
   * Times the loop may be started again after it ended in a running container (the agent can
   * kill it): each start is Engine calls, which an agent must not drive at will.
   */
  maxRestarts: number
}

export const DEFAULT_POLL_LIMITS: PollLimits = {
  maxEntries: 10_000,
  maxSnapshotBytes: 16 * 1024 * 1024,
  intervalSeconds: 1,
  maxRestarts: 10,
}

/** Depth of a recursive watch: what the engine walks at most (see `assertPathLimits`). */
const MAX_DEPTH = 128

/** Exit records of the script's checks (as the file scripts' codes). */
const WATCH_ERR = { notAllowed: '80', notFound: '81', notDir: '82', denied: '85' } as const

/**
 * The polling loop, run in the container as the worker user. The path and the roots are
 * resolved there (links the worker planted count for what they point to); the directory is
 * then entered and its real path checked again, so every snapshot walks that directory and
 * never what a link swapped in later points to. It prints `OK`, then a snapshot every interval:
 * `type mtime size inode relpath\0` per entry (at most `max + 1`), then `END\0`. Between
 * snapshots it reads its stdin for the interval: when the service drops the exec, stdin ends
 * and so does the loop, so nothing is left running in the container.
 */
const SCRIPT = [
  ...INSIDE_ROOTS_SH,
  'fail() { printf \'ERR %s\\0\' "$1"; exit 0; }',
  't=$(/usr/bin/realpath -m -- "$1" && echo .) || exit 1',
  't=${t%??}',
  'depth=$2 max=$3 every=$4',
  'shift 4',
  `inside "$t" "$@" || fail ${WATCH_ERR.notAllowed}`,
  `[ -e "$t" ] || fail ${WATCH_ERR.notFound}`,
  `[ -d "$t" ] || fail ${WATCH_ERR.notDir}`,
  `cd -P -- "$t" 2>/dev/null && [ -r . ] && [ -x . ] || fail ${WATCH_ERR.denied}`,
  'here=$(pwd -P && echo .) || exit 1',
  `inside "\${here%??}" "$@" || fail ${WATCH_ERR.notAllowed}`,
  "printf 'OK\\0'",
  'while :; do',
  '  /usr/bin/find . -mindepth 1 -maxdepth "$depth" -printf \'%y %T@ %s %i %P\\0\' 2>/dev/null |',
  '    /usr/bin/head -z -n "$((max + 1))"',
  "  printf 'END\\0'",
  '  /usr/bin/timeout "$every" /bin/cat >/dev/null 2>&1',
  '  [ $? -eq 124 ] || exit 0',
  'done',
].join('\n')

/** The argv of the loop watching `path` (see SCRIPT). */
export const pollCommand = (
  path: string,
  recursive: boolean,
  roots: readonly string[],
  limits: PollLimits = DEFAULT_POLL_LIMITS,
): string[] => [
  '/bin/sh',
  '-c',
  SCRIPT,
  'ws-watch',
  path,
  String(recursive ? MAX_DEPTH : 1),
  String(limits.maxEntries),
  String(limits.intervalSeconds),
  ...roots,
]

/** One entry of a snapshot: whether it is a directory, and what changes when it is written. */
interface Entry {
  dir: boolean
  kind: string
  stamp: string
}

type Snapshot = Map<string, Entry>

const ENTRY = /^(\S) (\S+) (\d+) (\d+) ([^]+)$/

/** Reads one record of a snapshot; undefined for what is no entry. */
export const parseEntry = (record: string): [string, Entry] | undefined => {
  const m = ENTRY.exec(record)
  if (!m) return undefined
  const kind = m[1]!
  const dir = kind === 'd'
  // A directory's own times move with every entry made in it: those come as their own changes.
  const stamp = dir ? m[4]! : `${m[2]} ${m[3]} ${m[4]}`
  return [m[5]!, { dir, kind, stamp }]
}

/**
 * The changes from `before` to `after`, paths joined to `base`: what appeared (parents first),
 * what was written, and what went (children first). An entry that changed kind went and came.
 */
export const diffSnapshots = (before: Snapshot, after: Snapshot, base: string): FileChange[] => {
  const at = (rel: string) => posix.join(base, rel)
  const created: FileChange[] = []
  const changed: FileChange[] = []
  const deleted: FileChange[] = []
  for (const [rel, now] of after) {
    const was = before.get(rel)
    if (was && was.kind !== now.kind) deleted.push({ type: 'deleted', path: at(rel), dir: was.dir })
    if (!was || was.kind !== now.kind)
      created.push({ type: 'created', path: at(rel), dir: now.dir })
    else if (was.stamp !== now.stamp) changed.push({ type: 'changed', path: at(rel), dir: now.dir })
  }
  for (const [rel, was] of before) {
    if (!after.has(rel)) deleted.push({ type: 'deleted', path: at(rel), dir: was.dir })
  }
  const byPath = (a: FileChange, b: FileChange) => (a.path! < b.path! ? -1 : 1)
  created.sort(byPath)
  changed.sort(byPath)
  deleted.sort((a, b) => byPath(b, a))
  return [...deleted, ...created, ...changed]
}

const startError = (code: string, path: string): SpawnerError => {
  const bad = (message: string, c?: 'path_not_allowed' | 'permission_denied') =>
    new BadRequestError(`path: ${path} ${message}`, [{ path: 'path', message }], c)
  switch (code) {
    case WATCH_ERR.notAllowed:
      return bad('resolves outside the allowed roots', 'path_not_allowed')
    case WATCH_ERR.notFound:
      return new NotFoundError(`no such directory: ${path}`)
    case WATCH_ERR.notDir:
      return bad('is not a directory')
    default:
      return bad('is not readable by the worker user', 'permission_denied')
  }
}

/** Whether the container still runs (not gone, not stopped). */
const running = async (ctx: DockerContext, id: string): Promise<boolean> => {
  const container = ctx.docker.getContainer(id)
  const info = await dockerCall(
    ctx,
    'inspect',
    { containerId: id },
    () => container.inspect(),
    (err) => dockerStatus(err) === 404,
  )
  return info?.State?.Running === true
}

/**
 * Splits the loop's output into records (NUL-terminated) and snapshots, holding one snapshot
 * at a time and at most `maxEntries` of it.
 */
class SnapshotReader {
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  #entries: Snapshot = new Map()
  #bytes = 0
  #full = false
  readonly #decoder = new TextDecoder()

  constructor(
    private readonly limits: PollLimits,
    private readonly onRecord: (record: string) => void,
  ) {}

  /** Feeds bytes; calls `onRecord` with each whole record. */
  push(chunk: Uint8Array) {
    let start = 0
    for (let i = chunk.indexOf(0); i !== -1; i = chunk.indexOf(0, start)) {
      const tail = chunk.subarray(start, i)
      const whole = this.#pending.length ? concat([...this.#pending, tail]) : tail
      this.#pending = []
      this.#pendingBytes = 0
      this.onRecord(this.#decoder.decode(whole))
      start = i + 1
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      // A record is a path (at most 4096 bytes) and a few fields: more is no record of ours.
      if (this.#pendingBytes + rest.length <= 8192) {
        this.#pending.push(rest.slice())
        this.#pendingBytes += rest.length
      }
    }
  }

  /** Adds an entry record to the snapshot being read. */
  add(record: string) {
    this.#bytes += record.length
    if (
      this.#entries.size >= this.limits.maxEntries ||
      this.#bytes > this.limits.maxSnapshotBytes
    ) {
      this.#full = true
      return
    }
    const entry = parseEntry(record)
    if (entry) this.#entries.set(entry[0], entry[1])
  }

  /** The snapshot read, and whether it was cut short; starts the next one. */
  take(): { snapshot: Snapshot; full: boolean } {
    const out = { snapshot: this.#entries, full: this.#full }
    this.#entries = new Map()
    this.#bytes = 0
    this.#full = false
    return out
  }
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * Watches a directory in a container by polling: one long-lived helper exec, as the worker
 * user, prints a snapshot of the tree every interval (see SCRIPT) and the changes are the
 * differences between snapshots, so writes within one interval come as one change. More than
 * `maxEntries` entries give one `overflow`, and no changes until the tree is small enough
 * again. Resolves when `signal` aborts or the container stops or goes; rejects when the watch
 * cannot start (NotFoundError, BadRequestError `path_not_allowed`, ConflictError when paused).
 * When the loop ends in a running container (the agent can kill it: it runs as its user), it
 * is started again, at most `maxRestarts` times, and the next snapshot is compared with the
 * last one, so nothing is lost.
 */
export const pollWatch = async (
  ctx: DockerContext,
  id: string,
  req: WatchRequest,
  limits: PollLimits = DEFAULT_POLL_LIMITS,
): Promise<void> => {
  const { signal } = req
  if (signal.aborted) return
  if (!req.path.startsWith('/')) throw new BadRequestError(`path must be absolute: ${req.path}`)
  const roots = req.roots ?? ['/']
  if (roots.length === 0 || roots.some((r) => !r.startsWith('/'))) {
    throw new BadRequestError('roots: absolute directories, at least one')
  }
  const base = posix.normalize(req.path)
  const argv = pollCommand(base, req.recursive ?? true, roots, limits)
  const user = `${WORKER_UID}:${WORKER_UID}`
  let last: Snapshot | undefined
  let overflowing = false
  let restarts = 0
  const emit = (change: FileChange) => {
    try {
      req.onChange(change)
    } catch {
      // A caller's handler must not end the watch.
    }
  }
  while (!signal.aborted) {
    const pipe = await pipeExec(ctx, id, { argv, user }).catch(async (err: unknown) => {
      // Started again as the container went (inspected while it was being removed): over.
      if (restarts > 0 && !(await running(ctx, id))) return undefined
      throw err
    })
    if (!pipe) return
    const close = () => pipe.close()
    // Aborted while the exec started: no abort event is coming any more.
    if (signal.aborted) return close()
    signal.addEventListener('abort', close, { once: true })
    let failure: SpawnerError | undefined
    const reader: SnapshotReader = new SnapshotReader(limits, (record) => {
      if (record === 'OK') return
      if (record.startsWith('ERR ')) {
        failure = startError(record.slice(4), base)
        return
      }
      if (record !== 'END') return reader.add(record)
      const { snapshot, full } = reader.take()
      if (full) {
        if (!overflowing) emit({ type: 'overflow' })
        overflowing = true
        return
      }
      overflowing = false
      if (last) for (const change of diffSnapshots(last, snapshot, base)) emit(change)
      last = snapshot
    })
    try {
      const stream = pipe.readable.getReader()
      for (;;) {
        // A dropped socket (the container went, or the abort) ends the output like its end.
        const read = await stream.read().catch(() => undefined)
        if (!read || read.done) break
        reader.push(read.value)
        if (failure) break
      }
    } finally {
      signal.removeEventListener('abort', close)
      pipe.close()
    }
    // Refused at the start; or at a restart, when the directory has been swapped for a link out
    // of the roots meanwhile: the watch ends either way.
    if (failure) throw failure
    if (signal.aborted) return
    if (!(await running(ctx, id))) return
    if (++restarts > limits.maxRestarts) {
      throw new UnavailableError(`the watch of ${base} in container ${id} keeps stopping`)
    }
    ctx.logger.debug('watch loop ended in a running container; started again', {
      containerId: id,
      path: base,
    })
  }
}
