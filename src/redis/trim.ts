import type { Redis } from 'ioredis'

/** XINFO GROUPS: one flat [name, value, …] list per group. */
type GroupsReply = (string | number | null)[][]

/**
 * Drops the entries of `stream` that `group` has handled: those before its oldest pending entry,
 * or before the last one it read when none is pending. Entries not read yet are kept. Trimmed
 * with `MINID ~`, so whole blocks go and the newest handled entries may stay. Only for streams
 * that no one else reads (an instance's own command stream).
 */
export const trimHandled = async (redis: Redis, stream: string, group: string): Promise<void> => {
  const groups = (await redis.call('XINFO', 'GROUPS', stream)) as GroupsReply
  const info = groups
    .map((flat) =>
      Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[String(v), flat[i + 1]]]))),
    )
    .find((g) => g.name === group)
  const lastRead = info?.['last-delivered-id']
  if (typeof lastRead !== 'string' || lastRead === '0-0') return
  const [count, oldest] = (await redis.xpending(stream, group)) as [
    number,
    string | null,
    ...unknown[],
  ]
  const floor = count > 0 && oldest ? oldest : lastRead
  await redis.xtrim(stream, 'MINID', '~', floor)
}
