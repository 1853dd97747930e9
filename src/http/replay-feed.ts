import type { EventFeed, SpawnerEvent } from '../core/events.ts'

/** An event with the id a client can resume after (`Last-Event-ID`). */
export interface NumberedEvent {
  id: string
  event: SpawnerEvent
}

/**
 * Numbers the events of a feed and keeps the latest of them, so an SSE client that lost its
 * connection resumes after the last id it saw instead of missing what came in between. Ids are
 * `<run>.<n>`: the run (random, per process) tells an id of this process from one of another or
 * of an earlier start, after which nothing can be replayed. Bounded in count and bytes.
 */
export class ReplayFeed {
  readonly run = [...crypto.getRandomValues(new Uint8Array(4))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
  private next = 1
  private readonly kept: { n: number; event: SpawnerEvent; bytes: number }[] = []
  private keptBytes = 0
  private readonly listeners = new Set<(e: NumberedEvent) => void>()
  private unsubscribe: (() => void) | undefined

  constructor(
    private readonly feed: EventFeed,
    private readonly limits = { events: 10_000, bytes: 8 * 1024 * 1024 },
  ) {}

  /**
   * True when everything after `lastId` (a `Last-Event-ID`) is still kept: it is of this run,
   * and no event after it has been let go.
   */
  resumable(lastId: string): boolean {
    const [run, n] = lastId.split('.')
    const after = Number(n)
    const oldest = this.kept[0]?.n ?? this.next
    return run === this.run && Number.isInteger(after) && after >= oldest - 1 && after < this.next
  }

  /**
   * Calls `listener` with every event from now on; with `lastId`, first with the kept events
   * after it (of this run). Returns the function that stops it.
   */
  subscribe(listener: (e: NumberedEvent) => void, lastId?: string): () => void {
    this.unsubscribe ??= this.feed.subscribe((event) => this.publish(event))
    if (lastId !== undefined) {
      const [run, n] = lastId.split('.')
      const after = Number(n)
      if (run === this.run && Number.isInteger(after)) {
        for (const k of this.kept) if (k.n > after) listener({ id: this.idOf(k.n), event: k.event })
      }
    }
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private idOf(n: number) {
    return `${this.run}.${n}`
  }

  private publish(event: SpawnerEvent) {
    const n = this.next++
    const bytes = JSON.stringify(event).length
    this.kept.push({ n, event, bytes })
    this.keptBytes += bytes
    while (
      this.kept.length > this.limits.events ||
      (this.keptBytes > this.limits.bytes && this.kept.length > 1)
    ) {
      this.keptBytes -= this.kept.shift()!.bytes
    }
    for (const listener of this.listeners) {
      try {
        listener({ id: this.idOf(n), event })
      } catch {
        // One failing client must not cost the others their events.
      }
    }
  }
}
