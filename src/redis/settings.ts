import { z } from 'zod'

const ms = (def: number) => z.coerce.number().int().positive().default(def)

/**
 * The Redis adapter's settings. Names default to the original API (`cli-agent:*`); the
 * prefix moves every derived key at once, and each public name can be set on its own.
 */
export const redisSettingsSchema = z.object({
  REDIS_URL: z.string().min(1),
  REDIS_PREFIX: z.string().min(1).default('cli-agent'),
  REDIS_COMMANDS_STREAM: z.string().min(1).optional(),
  REDIS_RESPONSES_STREAM: z.string().min(1).optional(),
  REDIS_EVENTS_CHANNEL: z.string().min(1).optional(),
  REDIS_EVENT_LOG_STREAM: z.string().min(1).optional(),
  REDIS_DEAD_STREAM: z.string().min(1).optional(),
  REDIS_GROUP: z.string().min(1).optional(),
  /** Longest a blocking read waits before the loop looks around again. */
  REDIS_BLOCK_MS: ms(1000),
  /** A pending entry idle this long is taken over by another instance (XAUTOCLAIM). */
  REDIS_CLAIM_IDLE_MS: ms(30_000),
  /** How long a request's first answer is kept for repeats of its request_id. */
  REDIS_DEDUPE_TTL_SECONDS: ms(86_400),
  /** Deliveries after which a failing entry goes to the dead stream. */
  REDIS_MAX_ATTEMPTS: ms(5),
  REDIS_MAX_PAYLOAD_BYTES: ms(4 * 1024 * 1024),
  /** Entries handled at once by one instance. */
  REDIS_CONCURRENCY: ms(64),
  REDIS_RESPONSES_MAXLEN: ms(100_000),
  REDIS_EVENT_LOG_MAXLEN: ms(100_000),
  REDIS_DEAD_MAXLEN: ms(10_000),
  /**
   * Event bytes sent to Redis and not yet answered. Past it, `output` events are dropped (a gap
   * in their `seq`); other events always go out.
   */
  REDIS_EVENT_BUFFER_BYTES: ms(4 * 1024 * 1024),
  /**
   * Largest answer stored and sent. A command's stdout/stderr are cut to fit (`truncated`);
   * any other answer over it is refused with `payload_too_large`.
   */
  REDIS_MAX_ANSWER_BYTES: ms(8 * 1024 * 1024),
})
export type RedisSettings = z.infer<typeof redisSettingsSchema>

/** Every Redis key, stream and channel the adapter uses. */
export interface RedisNames {
  /** `REDIS_PREFIX`: every key the service keeps for itself is under `<prefix>:`. */
  prefix: string
  commands: string
  responses: string
  events: string
  eventLog: string
  dead: string
  group: string
  /** Hash: worker id → owning instance. */
  owners: string
  /** Stream of commands forwarded to one instance. */
  instanceCommands: (instance: string) => string
  /** Key holding an instance's heartbeat. */
  instanceAlive: (instance: string) => string
  /** Key holding a request's first answer. */
  answer: (requestId: string) => string
  /** Key saying which instance is running a request. */
  running: (requestId: string) => string
  /** Stream where an instance receives answers to what it forwarded. */
  instanceResponses: (instance: string) => string
}

export const redisNames = (
  s: Pick<RedisSettings, 'REDIS_PREFIX'> & Partial<RedisSettings>,
): RedisNames => {
  const p = s.REDIS_PREFIX
  return {
    prefix: p,
    commands: s.REDIS_COMMANDS_STREAM ?? `${p}:commands`,
    responses: s.REDIS_RESPONSES_STREAM ?? `${p}:responses`,
    events: s.REDIS_EVENTS_CHANNEL ?? `${p}:events`,
    eventLog: s.REDIS_EVENT_LOG_STREAM ?? `${p}:event-log`,
    dead: s.REDIS_DEAD_STREAM ?? `${p}:dead`,
    group: s.REDIS_GROUP ?? `${p}:workers-spawner`,
    owners: `${p}:owners`,
    instanceCommands: (i) => `${p}:commands:instance:${i}`,
    instanceAlive: (i) => `${p}:instance:${i}`,
    answer: (id) => `${p}:answer:${id}`,
    running: (id) => `${p}:running:${id}`,
    instanceResponses: (i) => `${p}:responses:instance:${i}`,
  }
}

/**
 * Why `reply_to` may not name `stream`, or undefined when it may. Answers go to the responses
 * stream, to an instance's stream of forwarded answers, or to any stream of the producer's own;
 * never to another stream or key the service keeps (answers there would trim its requests,
 * break its keys, or mix with its events and dead letters).
 */
export const replyToRefusal = (names: RedisNames, stream: string): string | undefined => {
  const forwarded = names.instanceResponses('')
  const isForwarded = stream.startsWith(forwarded) && stream.length > forwarded.length
  if (stream === names.responses || isForwarded) return undefined
  const own = [names.commands, names.eventLog, names.dead, names.owners]
  if (
    own.includes(stream) ||
    stream.startsWith(`${names.dead}:`) ||
    stream.startsWith(`${names.prefix}:`)
  ) {
    return (
      `'${stream}' is one of the service's own streams or keys; answers go to '${names.responses}' ` +
      `or to a stream of your own outside '${names.prefix}:'`
    )
  }
  return undefined
}
