import type { z } from 'zod'
import type { ActivityGuard } from './activity.ts'
import type { CoreContext } from './context.ts'
import { ConflictError, SpawnerError } from './errors.ts'
import type { CommandHooks } from './hooks.ts'
import { fileRoots } from './paths.ts'
import { canWatch, type FileChange } from './runtime.ts'
import type * as S from './schemas.ts'
import { resolveDirPath, type WorkerDirs } from './worker-dirs.ts'
import type { WorkerStore } from './worker-store.ts'

type WatchOutput = z.output<typeof S.watchOutput>

/** How many watches may run at once, and for whom. */
export interface WatchLimits {
  /** Watches of one worker, whoever holds them. */
  perWorker: number
  /** Watches one worker-token caller holds, on itself and its sub-workers together. */
  perCaller: number
  /** Watches on this instance, all callers together (each may hold a helper in a container). */
  total: number
  /**
   * Changes one watch passes on in a second; past it, one `overflow` and nothing more until the
   * second is over. The changes come from the worker (its daemon or polling helper), which its
   * agent can make say anything as fast as it likes; each goes to a stream or to Redis.
   */
  maxChangesPerSecond: number
}

/** 8 per worker and per calling worker, 64 on the instance, 1,000 changes a second each. */
export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  perWorker: 8,
  perCaller: 8,
  total: 64,
  maxChangesPerSecond: 1000,
}

/** Longest path a change may carry (a real one is at most PATH_MAX, 4096 bytes). */
const MAX_CHANGE_PATH = 8192

/**
 * A filter of one watch's changes: only those below `dir` (or `dir` itself), at most `perSecond`
 * a second, then one `overflow` (changes were lost) until the second is over.
 */
const changeFilter = (dir: string, perSecond: number) => {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`
  let windowStart = -Infinity
  let passed = 0
  return (change: FileChange): FileChange | undefined => {
    if (change.type !== 'overflow') {
      const p = change.path
      if (p === undefined || p.length > MAX_CHANGE_PATH) return undefined
      if (p !== dir && !p.startsWith(prefix)) return undefined
    }
    const now = performance.now()
    if (now - windowStart >= 1000) {
      windowStart = now
      passed = 0
    }
    passed++
    if (passed <= perSecond) return change
    return passed === perSecond + 1 ? { type: 'overflow' } : undefined
  }
}

/** What a watch is told besides its input. */
export interface WatchOptions {
  /** The worker calling with its own token; operators are counted only in `total`. */
  caller?: string
  /** Ends the watch (the client left). */
  signal?: AbortSignal
  /** Each change, in order. */
  onChange: (change: FileChange) => void
  /** Resuming a paused worker carries these (see CommandHooks). */
  hooks?: Pick<CommandHooks, 'onEffect' | 'requestId'>
}

const tooMany = (message: string) => new SpawnerError('too_many_watches', message)

/**
 * File watches in workers (`watch`): as the worker user, on a directory under the same roots as
 * `read_file` and `list_files`, through the runtime's `watch` (the in-worker daemon, or polling).
 * A paused worker is resumed first; a watch does not count as activity, so it keeps no worker
 * from its idle pause (a paused worker's changes arrive once it runs again). A watch ends when
 * its signal aborts, after `durationMs`, or when the worker is deleted or its container goes.
 * How many run at once is bounded per worker, per calling worker and per instance (429).
 */
export class WorkerWatches {
  readonly #byWorker = new Map<string, number>()
  readonly #byCaller = new Map<string, number>()
  #total = 0

  constructor(
    private readonly ctx: CoreContext,
    private readonly store: WorkerStore,
    private readonly guard: ActivityGuard,
    private readonly dirs: WorkerDirs,
    private readonly limits: WatchLimits = DEFAULT_WATCH_LIMITS,
  ) {}

  /** Watches open now on this instance. */
  get count(): number {
    return this.#total
  }

  /**
   * What `watch` refuses before it starts, checked ahead (a stream opens only if it passes): a
   * runtime that cannot watch, a path outside the roots, no slot free now; then, in the
   * container, a link that leads out of the roots, a missing or unreadable directory.
   */
  async check(input: z.output<typeof S.watchInput>, caller: string | undefined): Promise<void> {
    const record = await this.store.get(input.workerId)
    this.#runtime()
    const path = resolveDirPath(input.path ?? record.workdir, fileRoots(record.workdir))
    this.#reserve(record.workerId, caller)()
    await this.dirs.list({ workerId: record.workerId, path, limit: 1 })
  }

  async watch(input: z.output<typeof S.watchInput>, opts: WatchOptions): Promise<WatchOutput> {
    const record = await this.store.get(input.workerId)
    const runtime = this.#runtime()
    const roots = fileRoots(record.workdir)
    const path = resolveDirPath(input.path ?? record.workdir, roots)
    const release = this.#reserve(record.workerId, opts.caller)
    const stop = new AbortController()
    let ended: WatchOutput['ended'] = 'worker_gone'
    const end = (why: WatchOutput['ended']) => {
      if (stop.signal.aborted) return
      ended = why
      stop.abort()
    }
    const onCancel = () => end('cancelled')
    opts.signal?.addEventListener('abort', onCancel, { once: true })
    if (opts.signal?.aborted) end('cancelled')
    const timer =
      input.durationMs === undefined
        ? undefined
        : setTimeout(() => end('duration'), input.durationMs)
    // The container's end also ends the runtime's watch; this is sooner, and holds on any runtime.
    const unsubscribe = this.ctx.events.subscribe((e) => {
      if (e.type === 'status' && e.workerId === record.workerId && e.state === 'deleted') {
        end('worker_gone')
      }
    })
    let changes = 0
    const filter = changeFilter(path, this.limits.maxChangesPerSecond)
    try {
      if (!stop.signal.aborted && record.state === 'paused') {
        await this.guard.resume(record.workerId, opts.hooks)
      }
      const run = () =>
        runtime.watch(record.containerId, {
          path,
          recursive: input.recursive,
          roots,
          signal: stop.signal,
          onChange: (said) => {
            if (stop.signal.aborted) return
            const change = filter(said)
            if (!change) return
            changes++
            opts.onChange(change)
          },
        })
      if (!stop.signal.aborted) {
        try {
          await run()
        } catch (err) {
          // Paused behind the service's back (the record said running): resume, then once more.
          if (!(err instanceof ConflictError)) throw err
          if ((await runtime.inspect(record.containerId))?.state !== 'paused') throw err
          await this.guard.resume(record.workerId, opts.hooks)
          if (!stop.signal.aborted) await run()
        }
      }
    } finally {
      clearTimeout(timer)
      unsubscribe()
      opts.signal?.removeEventListener('abort', onCancel)
      release()
    }
    return { workerId: record.workerId, path, changes, ended }
  }

  #runtime() {
    const runtime = this.ctx.runtime
    if (canWatch(runtime)) return runtime
    throw new ConflictError(
      "this service's container runtime cannot watch files",
      'watch_unavailable',
    )
  }

  /** Counts a watch in, or refuses it; returns the function that counts it out. */
  #reserve(workerId: string, caller: string | undefined): () => void {
    const { perWorker, perCaller, total } = this.limits
    const mine = this.#byWorker.get(workerId) ?? 0
    const theirs = caller === undefined ? 0 : (this.#byCaller.get(caller) ?? 0)
    if (mine >= perWorker) {
      throw tooMany(`worker '${workerId}' is watched ${mine} times, the most one worker may be`)
    }
    if (caller !== undefined && theirs >= perCaller) {
      throw tooMany(`worker '${caller}' holds ${theirs} watches, the most one caller may`)
    }
    if (this.#total >= total) {
      throw tooMany(`${this.#total} watches run on this instance, the most it runs at once`)
    }
    this.#byWorker.set(workerId, mine + 1)
    if (caller !== undefined) this.#byCaller.set(caller, theirs + 1)
    this.#total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#total--
      down(this.#byWorker, workerId)
      if (caller !== undefined) down(this.#byCaller, caller)
    }
  }
}

const down = (counts: Map<string, number>, key: string) => {
  const left = (counts.get(key) ?? 1) - 1
  if (left > 0) counts.set(key, left)
  else counts.delete(key)
}
