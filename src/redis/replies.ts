/**
 * Shapes of raw Redis stream replies. ioredis returns them untyped (nested arrays), so they
 * are named here once, with the reason for each.
 */

/** One stream entry: [id, [field, value, …]]; fields are null for an entry deleted meanwhile. */
export type StreamEntry = [id: string, fields: string[] | null]

/** XREADGROUP / XREAD: [[stream, entries], …], or null when BLOCK timed out. */
export type ReadReply = [stream: string, entries: StreamEntry[]][] | null

/** XAUTOCLAIM: [next cursor, claimed entries, deleted ids (Redis ≥ 7)]. */
export type AutoClaimReply = [cursor: string, entries: StreamEntry[], deleted?: string[]]

/** XPENDING with a range: [[id, consumer, idle ms, deliveries], …]. */
export type PendingReply = [id: string, consumer: string, idleMs: number, deliveries: number][]
