import {
  appendFile,
  copyFile,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { PayloadTooLargeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import {
  MAX_SESSION_ARCHIVE_BYTES,
  assertSessionId,
  assertWorkerId,
  capTurn,
  turnSchema,
  type NewTurn,
  type SessionStore,
  type TranscriptOwner,
  type Turn,
} from '../core/transcripts.ts'

export interface DirSessionStoreOptions {
  /** Days a transcript is kept after its last write. */
  retentionDays: number
  /**
   * Bytes the directory holds at most (default `DEFAULT_TRANSCRIPTS_MAX_BYTES`): past it the
   * least recently written transcripts go, and a write that alone would pass it is refused.
   */
  maxBytes?: number
  logger?: Logger
}

/** What the transcripts directory holds at most unless told otherwise (10 GiB). */
export const DEFAULT_TRANSCRIPTS_MAX_BYTES = 10 * 1024 ** 3

/** Where transcripts are kept when TRANSCRIPTS_DIR is unset. */
export const defaultTranscriptsDir = () => join(homedir(), '.workers-spawner', 'transcripts')

const WORKER_DIR = /^w-[a-f0-9]{16}$/

/**
 * A `SessionStore` in a host directory, one folder per worker (mode 0700):
 * `turns.jsonl` (a turn per line), `owner.json`, and `sessions/<sessionId>.tgz`, the archives as
 * the worker made them, never unpacked here. Names come only from checked worker and session
 * ids, so nothing lands outside the folder. Writes to one worker's folder go one at a time.
 */
export class DirSessionStore implements SessionStore {
  private readonly locks = new Map<string, Promise<unknown>>()
  /** The last turn number of each worker written through this store. */
  private readonly last = new Map<string, number>()
  private readonly retentionMs: number
  private readonly maxBytes: number
  private readonly logger: Logger
  /**
   * Bytes of each worker's folder, least recently written first: measured once when first
   * needed, then again after each write. Agents decide what is written (their output, their
   * session files), so without a bound they could fill the host's disk, and a deleted worker's
   * folder stays for the retention period.
   */
  private sizes?: Promise<Map<string, number>>

  constructor(
    readonly dir: string,
    opts: DirSessionStoreOptions,
  ) {
    this.retentionMs = opts.retentionDays * 86_400_000
    this.maxBytes = opts.maxBytes ?? DEFAULT_TRANSCRIPTS_MAX_BYTES
    this.logger = opts.logger ?? noopLogger
  }

  /** Bytes under one worker's folder (0 when there is none). */
  private async measure(workerId: string): Promise<number> {
    const dir = join(this.dir, workerId)
    const size = async (path: string) => (await stat(path).catch(() => undefined))?.size ?? 0
    let bytes = (await size(join(dir, 'turns.jsonl'))) + (await size(join(dir, 'owner.json')))
    for (const name of await readdir(join(dir, 'sessions')).catch(() => []))
      bytes += await size(join(dir, 'sessions', name))
    return bytes
  }

  private usage(): Promise<Map<string, number>> {
    this.sizes ??= (async () => {
      const names = await readdir(this.dir).catch(() => [] as string[])
      const found: { name: string; at: number; bytes: number }[] = []
      for (const name of names.filter((n) => WORKER_DIR.test(n))) {
        const at = (await stat(join(this.dir, name)).catch(() => undefined))?.mtimeMs ?? 0
        found.push({ name, at, bytes: await this.measure(name) })
      }
      found.sort((a, b) => a.at - b.at)
      return new Map(found.map((f) => [f.name, f.bytes]))
    })()
    return this.sizes
  }

  /** Refuses a write of `bytes` more to the worker's folder that would pass `maxBytes` alone. */
  private async assertRoom(workerId: string, bytes: number) {
    const own = (await this.usage()).get(workerId) ?? 0
    if (own + bytes > this.maxBytes)
      throw new PayloadTooLargeError(
        `the transcript of '${workerId}' would hold ${own + bytes} bytes; the store keeps at most ${this.maxBytes}`,
      )
  }

  /**
   * Measures the worker's folder after a write (making it the most recent), then removes the
   * least recently written others while the directory is over `maxBytes`. Runs outside the
   * worker's lock: it takes others'.
   */
  private async account(workerId: string) {
    const sizes = await this.usage()
    const bytes = await this.measure(workerId)
    sizes.delete(workerId)
    sizes.set(workerId, bytes)
    let total = [...sizes.values()].reduce((a, b) => a + b, 0)
    for (const [name, held] of [...sizes]) {
      if (total <= this.maxBytes) break
      if (name === workerId) continue
      await this.locked(name, () => rm(join(this.dir, name), { recursive: true, force: true }))
      sizes.delete(name)
      this.last.delete(name)
      total -= held
      this.logger.warn('transcript dropped: the transcripts directory is full', {
        workerId: name,
        maxBytes: this.maxBytes,
      })
    }
  }

  private folder(workerId: string, field?: string) {
    assertWorkerId(workerId, field)
    return join(this.dir, workerId)
  }

  /** The worker's folder, made if missing, with its time set to now (what retention reads). */
  private async open(workerId: string) {
    const dir = this.folder(workerId)
    await mkdir(join(dir, 'sessions'), { recursive: true, mode: 0o700 })
    return dir
  }

  private async touch(dir: string) {
    const now = new Date()
    await utimes(dir, now, now)
  }

  /** Runs `fn` after every earlier write to the same worker has settled. */
  private locked<T>(workerId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(workerId) ?? Promise.resolve()
    const mine = before.then(fn, fn)
    const tail = mine.catch(() => undefined)
    this.locks.set(workerId, tail)
    void tail.then(() => {
      if (this.locks.get(workerId) === tail) this.locks.delete(workerId)
    })
    return mine
  }

  async appendTurn(workerId: string, turn: NewTurn): Promise<Turn> {
    this.folder(workerId)
    const stored = await this.locked(workerId, async () => {
      const dir = await this.open(workerId)
      const last = this.last.get(workerId) ?? (await this.read(workerId)).at(-1)?.n ?? 0
      const stored: Turn = { ...capTurn(turn), n: last + 1 }
      const line = JSON.stringify(stored) + '\n'
      await this.assertRoom(workerId, Buffer.byteLength(line))
      await appendFile(join(dir, 'turns.jsonl'), line, { mode: 0o600 })
      this.last.set(workerId, stored.n)
      await this.touch(dir)
      return stored
    })
    await this.account(workerId)
    return stored
  }

  async turns(workerId: string, opts: { sessionId?: string } = {}): Promise<Turn[]> {
    const all = await this.read(workerId)
    return opts.sessionId ? all.filter((t) => t.sessionId === opts.sessionId) : all
  }

  /** Every turn on file; a line that does not read as a turn is passed over. */
  private async read(workerId: string): Promise<Turn[]> {
    let text: string
    try {
      text = await readFile(join(this.folder(workerId), 'turns.jsonl'), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    return text.split('\n').flatMap((line) => {
      if (!line) return []
      try {
        const parsed = turnSchema.safeParse(JSON.parse(line))
        return parsed.success ? [parsed.data] : []
      } catch {
        return []
      }
    })
  }

  async saveSession(workerId: string, sessionId: string, archive: Uint8Array) {
    this.folder(workerId)
    assertSessionId(sessionId)
    if (archive.length > MAX_SESSION_ARCHIVE_BYTES)
      throw new PayloadTooLargeError(
        `session archive is ${archive.length} bytes; the limit is ${MAX_SESSION_ARCHIVE_BYTES}`,
      )
    await this.locked(workerId, async () => {
      const dir = await this.open(workerId)
      const file = join(dir, 'sessions', `${sessionId}.tgz`)
      const replaced = (await stat(file).catch(() => undefined))?.size ?? 0
      await this.assertRoom(workerId, archive.length - replaced)
      // Whole or not at all: a reader never sees half an archive.
      await writeFile(`${file}.part`, archive, { mode: 0o600 })
      await rename(`${file}.part`, file)
      await this.touch(dir)
    })
    await this.account(workerId)
  }

  async loadSession(workerId: string, sessionId: string) {
    assertSessionId(sessionId)
    try {
      const file = join(this.folder(workerId), 'sessions', `${sessionId}.tgz`)
      return new Uint8Array(await readFile(file))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async setOwner(workerId: string, owner: TranscriptOwner) {
    this.folder(workerId)
    return this.locked(workerId, async () => {
      const dir = await this.open(workerId)
      await writeFile(join(dir, 'owner.json.part'), JSON.stringify(owner), { mode: 0o600 })
      await rename(join(dir, 'owner.json.part'), join(dir, 'owner.json'))
      await this.touch(dir)
    })
  }

  async owner(workerId: string): Promise<TranscriptOwner | undefined> {
    try {
      const raw = JSON.parse(await readFile(join(this.folder(workerId), 'owner.json'), 'utf8'))
      const ok =
        typeof raw?.agent === 'string' &&
        typeof raw.workdir === 'string' &&
        Array.isArray(raw.ancestors) &&
        raw.ancestors.every((a: unknown) => typeof a === 'string')
      return ok ? { agent: raw.agent, workdir: raw.workdir, ancestors: raw.ancestors } : undefined
    } catch {
      return undefined
    }
  }

  async copy(from: string, to: string, opts: { upToTurn?: number; sessionId?: string } = {}) {
    const source = this.folder(from, 'fromWorker')
    const picked = (await this.read(from)).filter(
      (t) =>
        (opts.upToTurn === undefined || t.n <= opts.upToTurn) &&
        (opts.sessionId === undefined || t.sessionId === opts.sessionId),
    )
    let archives: string[] = []
    try {
      archives = (await readdir(join(source, 'sessions'))).filter((f) => f.endsWith('.tgz'))
    } catch {
      // no archives
    }
    if (opts.sessionId !== undefined)
      archives = archives.filter((f) => f === `${opts.sessionId}.tgz`)
    await this.locked(to, async () => {
      const dir = await this.open(to)
      let last = this.last.get(to) ?? (await this.read(to)).at(-1)?.n ?? 0
      const lines = picked.map((t) => JSON.stringify({ ...t, n: ++last, from: t.from ?? from }))
      let incoming = Buffer.byteLength(lines.join('\n') + '\n')
      for (const f of archives)
        incoming += (await stat(join(source, 'sessions', f)).catch(() => undefined))?.size ?? 0
      await this.assertRoom(to, incoming)
      if (lines.length)
        await appendFile(join(dir, 'turns.jsonl'), lines.join('\n') + '\n', { mode: 0o600 })
      this.last.set(to, last)
      for (const f of archives)
        await copyFile(join(source, 'sessions', f), join(dir, 'sessions', f))
      await this.touch(dir)
    })
    await this.account(to)
  }

  /** Removes the folders of workers not written to within the retention period. */
  async prune(now: Date) {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const before = now.getTime() - this.retentionMs
    for (const name of names.filter((n) => WORKER_DIR.test(n))) {
      const dir = join(this.dir, name)
      const info = await stat(dir).catch(() => undefined)
      if (!info?.isDirectory() || info.mtimeMs >= before) continue
      await this.locked(name, () => rm(dir, { recursive: true, force: true }))
      this.last.delete(name)
      ;(await this.sizes)?.delete(name)
      this.logger.info('transcript pruned', { workerId: name })
    }
  }
}
