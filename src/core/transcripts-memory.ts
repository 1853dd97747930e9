import { PayloadTooLargeError } from './errors.ts'
import {
  MAX_SESSION_ARCHIVE_BYTES,
  assertSessionId,
  assertWorkerId,
  capTurn,
  type NewTurn,
  type SessionStore,
  type TranscriptOwner,
  type Turn,
} from './transcripts.ts'

/** One worker's transcript held in memory. */
interface Held {
  turns: Turn[]
  sessions: Map<string, Uint8Array>
  owner?: TranscriptOwner
  /** Last write (ms), for retention. */
  touched: number
}

export interface MemorySessionStoreOptions {
  /** Days a transcript is kept after its last write. Default 30. */
  retentionDays?: number
  /** Archive bytes held in all; past it the least recently written transcripts go. Default 256 MiB. */
  maxBytes?: number
  now?: () => Date
}

/**
 * A `SessionStore` in this process's memory: for tests, and for entries without a disk (the
 * transcripts live as long as the process). Bounded by `maxBytes` of archives.
 */
export class MemorySessionStore implements SessionStore {
  private readonly held = new Map<string, Held>()
  private readonly retentionMs: number
  private readonly maxBytes: number
  private readonly now: () => Date

  constructor(opts: MemorySessionStoreOptions = {}) {
    this.retentionMs = (opts.retentionDays ?? 30) * 86_400_000
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024
    this.now = opts.now ?? (() => new Date())
  }

  private entry(workerId: string): Held {
    assertWorkerId(workerId)
    let h = this.held.get(workerId)
    if (!h) this.held.set(workerId, (h = { turns: [], sessions: new Map(), touched: 0 }))
    h.touched = this.now().getTime()
    return h
  }

  async appendTurn(workerId: string, turn: NewTurn): Promise<Turn> {
    const h = this.entry(workerId)
    const stored = { ...capTurn(turn), n: (h.turns.at(-1)?.n ?? 0) + 1 }
    h.turns.push(stored)
    return structuredClone(stored)
  }

  async turns(workerId: string, opts: { sessionId?: string } = {}): Promise<Turn[]> {
    assertWorkerId(workerId)
    const all = this.held.get(workerId)?.turns ?? []
    return structuredClone(opts.sessionId ? all.filter((t) => t.sessionId === opts.sessionId) : all)
  }

  async saveSession(workerId: string, sessionId: string, archive: Uint8Array) {
    assertSessionId(sessionId)
    if (archive.length > MAX_SESSION_ARCHIVE_BYTES)
      throw new PayloadTooLargeError(
        `session archive is ${archive.length} bytes; the limit is ${MAX_SESSION_ARCHIVE_BYTES}`,
      )
    const h = this.entry(workerId)
    // Eviction spares the worker being written: its own archives are bounded here.
    let own = archive.length - (h.sessions.get(sessionId)?.length ?? 0)
    for (const a of h.sessions.values()) own += a.length
    if (own > this.maxBytes)
      throw new PayloadTooLargeError(
        `the sessions of '${workerId}' would hold ${own} bytes; the store keeps at most ${this.maxBytes}`,
      )
    h.sessions.set(sessionId, archive.slice())
    this.evict()
  }

  async loadSession(workerId: string, sessionId: string) {
    assertWorkerId(workerId)
    assertSessionId(sessionId)
    return this.held.get(workerId)?.sessions.get(sessionId)?.slice()
  }

  async setOwner(workerId: string, owner: TranscriptOwner) {
    this.entry(workerId).owner = structuredClone(owner)
  }

  async owner(workerId: string) {
    assertWorkerId(workerId)
    const owner = this.held.get(workerId)?.owner
    return owner && structuredClone(owner)
  }

  async copy(from: string, to: string, opts: { upToTurn?: number; sessionId?: string } = {}) {
    assertWorkerId(from, 'fromWorker')
    const source = this.held.get(from)
    if (!source) return
    const target = this.entry(to)
    const picked = source.turns.filter(
      (t) =>
        (opts.upToTurn === undefined || t.n <= opts.upToTurn) &&
        (opts.sessionId === undefined || t.sessionId === opts.sessionId),
    )
    for (const t of picked) {
      const n = (target.turns.at(-1)?.n ?? 0) + 1
      target.turns.push({ ...structuredClone(t), n, from: t.from ?? from })
    }
    for (const [id, archive] of source.sessions)
      if (opts.sessionId === undefined || id === opts.sessionId) target.sessions.set(id, archive)
    this.evict()
  }

  async prune(now: Date) {
    for (const [id, h] of this.held)
      if (h.touched < now.getTime() - this.retentionMs) this.held.delete(id)
  }

  /** Drops the least recently written transcripts while the archives pass `maxBytes`. */
  private evict() {
    const bytes = () =>
      [...this.held.values()].reduce(
        (sum, h) => sum + [...h.sessions.values()].reduce((s, a) => s + a.length, 0),
        0,
      )
    while (this.held.size > 1 && bytes() > this.maxBytes) {
      const oldest = [...this.held].sort(([, a], [, b]) => a.touched - b.touched)[0]!
      this.held.delete(oldest[0])
    }
  }
}
