import type { Redis } from 'ioredis'
import { describeError, toSpawnerError, type SpawnerError } from '../core/errors.ts'
import { httpStatusOf } from '../core/http-status.ts'
import type { Logger } from '../core/logger.ts'
import { fitAnswer } from './answer-size.ts'
import { responseFields, type Request } from './protocol.ts'
import type { RedisNames, RedisSettings } from './settings.ts'

/** A request's answer: its result or its error. */
export type Answer = { ok: true; result: unknown } | { ok: false; error: SpawnerError }

/** What an answer is sent for: the request, or as much of it as could be read. */
export interface AnswerMeta {
  requestId?: string
  replyTo?: string
  command?: { name: string }
  /** Kept for repeats of its request_id (default); a refusal before running is not. */
  store?: boolean
  /** This runner holds the request's lease (default), which the answer releases. */
  held?: boolean
}

/**
 * How the consumer answers: each answer is stored (for repeats of its request_id), sent and
 * acked in one transaction, never larger than `REDIS_MAX_ANSWER_BYTES`. A failure is recorded
 * for the dead stream instead, and the entry delivered again.
 */
export class Answers {
  constructor(
    private readonly redis: Redis,
    private readonly names: RedisNames,
    private readonly s: RedisSettings,
    private readonly logger: Logger,
  ) {}

  /** Stores the answer (when there is a request_id), sends it and acks, in one transaction. */
  async send(stream: string, entryId: string, meta: AnswerMeta, answer: Answer): Promise<void> {
    if (!answer.ok && httpStatusOf(answer.error) >= 500) {
      // The answer holds the code and message; what caused it is for the operator only.
      this.logger.error('request failed', {
        entryId,
        ...(meta.requestId ? { requestId: meta.requestId } : {}),
        code: answer.error.code,
        error: describeError(answer.error),
      })
    }
    const fitted = fitAnswer(answer, this.s.REDIS_MAX_ANSWER_BYTES, meta.command?.name)
    const fields = responseFields(fitted, {
      entryId,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      ...(meta.command ? { command: meta.command.name } : {}),
    })
    const { REDIS_DEDUPE_TTL_SECONDS: ttl, REDIS_RESPONSES_MAXLEN: maxLen } = this.s
    const m = this.redis.multi()
    if (meta.requestId && meta.store !== false) {
      m.set(this.names.answer(meta.requestId), JSON.stringify(fields), 'EX', ttl)
    }
    m.xadd(meta.replyTo ?? this.names.responses, 'MAXLEN', '~', maxLen, '*', ...fields)
    m.xack(stream, this.names.group, entryId)
    // Only this runner's lease: a request refused before it took one leaves another's alone.
    if (meta.requestId && meta.held !== false) m.del(this.names.running(meta.requestId))
    m.del(this.failureKey(stream, entryId))
    const results = await m.exec()
    const failed = results?.find(([err]) => err)
    if (failed) throw failed[0]
  }

  /** The stored first answer to `requestId`, if any. */
  stored(requestId: string): Promise<string | null> {
    return this.redis.get(this.names.answer(requestId))
  }

  /** Sends a stored answer again, for a repeated request_id, and acks. */
  async resend(stream: string, req: Request, stored: string): Promise<void> {
    const fields = JSON.parse(stored) as string[]
    await this.redis
      .multi()
      .xadd(
        req.replyTo ?? this.names.responses,
        'MAXLEN',
        '~',
        this.s.REDIS_RESPONSES_MAXLEN,
        '*',
        ...fields,
      )
      .xack(stream, this.names.group, req.entryId)
      .exec()
  }

  /** Key of the last error of an entry, kept for the dead stream. */
  failureKey(stream: string, entryId: string): string {
    return `${this.names.dead}:failure:${stream}:${entryId}`
  }

  /** Records why an entry failed; it stays pending and is delivered again after the idle time. */
  async failed(stream: string, id: string, err: unknown): Promise<void> {
    const e = toSpawnerError(err)
    const fields = { entryId: id, code: e.code, message: e.message, error: describeError(err) }
    this.logger.warn('request failed; it will be retried', fields)
    const ttl = this.s.REDIS_DEDUPE_TTL_SECONDS
    await this.redis
      .set(this.failureKey(stream, id), JSON.stringify(e.toJSON()), 'EX', ttl)
      .catch((x: unknown) => {
        const error = x instanceof Error ? x.message : String(x)
        this.logger.warn('failure record failed', { error })
      })
  }
}
