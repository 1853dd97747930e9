import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { ForwardOptions, Forwarder } from '../core/dispatcher.ts'
import { errorOfCode, isErrorCode, SpawnerError, UnavailableError } from '../core/errors.ts'
import type { SpawnerEvent } from '../core/events.ts'
import type { Logger } from '../core/logger.ts'
import type { EventFeed } from '../core/events.ts'
import { fieldsToRecord, requestFields, type Request } from './protocol.ts'
import type { ReadReply } from './replies.ts'
import type { RedisNames } from './settings.ts'

type Waiter = {
  resolve: (fields: Record<string, string>) => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
}

/**
 * Longest a relayed command's answer waits for the rest of its output. Output comes as events
 * (pub/sub) and the answer on a stream, two connections apart; the `command_exit` event, sent
 * after the output, says it is all in.
 */
const OUTPUT_GRACE_MS = 2000

/**
 * The error another instance answered (its `error` field), rebuilt as it threw it there, with
 * the answer as its `cause`. A code this version does not know (an instance of another version)
 * becomes a 502 `remote_error`, the code kept in the message.
 */
export const forwardedError = (field: string | undefined, owner: string): SpawnerError => {
  const e = JSON.parse(field ?? '{}') as { code?: unknown; message?: string; details?: unknown }
  const message = e.message ?? 'remote error'
  const options = { ...(e.details === undefined ? {} : { details: e.details }), cause: e }
  if (e.code === undefined) return new SpawnerError('remote_error', message, options)
  if (isErrorCode(e.code)) return errorOfCode(e.code, message, options)
  return new SpawnerError(
    'remote_error',
    `instance '${owner}' answered the unknown code '${String(e.code)}': ${message}`,
    options,
  )
}

/**
 * Where this instance finds the owners of workers (`<owners>` and the heartbeats), and the one
 * way requests reach them: the owner's command stream. A request read from a stream is handed
 * on as it is (`handOff`); one that entered over HTTP is sent and waited for on this instance's
 * own response stream (`call`), its output, when asked for, relayed from the events of every
 * instance (`feed`).
 */
export class RedisForwarder implements Forwarder {
  private readonly waiting = new Map<string, Waiter>()
  private started: Promise<void> | undefined
  private stopped = false
  private cursor = '0-0'
  private reader: Redis | undefined

  constructor(
    private readonly redis: Redis,
    private readonly names: RedisNames,
    private readonly me: string,
    private readonly logger: Logger,
    private readonly feed?: EventFeed,
  ) {}

  /** The instance other than this one that owns `workerId`, if any, and whether it runs. */
  async ownerOf(workerId: string): Promise<{ instance: string; alive: boolean } | undefined> {
    const owner = await this.redis.hget(this.names.owners, workerId)
    if (!owner || owner === this.me) return undefined
    return {
      instance: owner,
      alive: (await this.redis.exists(this.names.instanceAlive(owner))) === 1,
    }
  }

  /** Records this instance as the owner of `workerId`. */
  async claim(workerId: string): Promise<void> {
    await this.redis.hset(this.names.owners, workerId, this.me)
  }

  /** Runs `command` at `owner`; resolves with its result or throws its error. */
  async call(
    owner: string,
    command: string,
    payload: unknown,
    opts: ForwardOptions,
  ): Promise<unknown> {
    await (this.started ??= this.start())
    const requestId = `fwd-${this.me}-${randomBytes(8).toString('hex')}`
    const output =
      opts.onOutput && this.feed
        ? this.relayOutput(requestId, opts.onOutput, opts.onUpdate)
        : undefined
    try {
      const answer = new Promise<Record<string, string>>((resolve, reject) => {
        const stop = () => {
          clearTimeout(timer)
          this.waiting.delete(requestId)
        }
        const timer = setTimeout(() => {
          stop()
          reject(
            new UnavailableError(
              `instance '${owner}' did not answer within ${opts.timeoutMs} ms`,
              'owner_timeout',
            ),
          )
        }, opts.timeoutMs)
        this.waiting.set(requestId, { resolve, reject, timer })
        opts.signal?.addEventListener(
          'abort',
          () => {
            stop()
            reject(new SpawnerError('cancelled', 'the caller stopped waiting'))
          },
          { once: true },
        )
      })
      await this.redis.xadd(
        this.names.instanceCommands(owner),
        '*',
        ...requestFields({
          requestId,
          command,
          payload,
          replyTo: this.names.instanceResponses(this.me),
          forwardedBy: this.me,
          ...(opts.caller ? { caller: opts.caller } : {}),
        }),
      )
      const f = await answer
      await output?.drained(f.ok === '1')
      if (f.ok === '1') return JSON.parse(f.result ?? 'null')
      throw forwardedError(f.error, owner)
    } finally {
      output?.stop()
    }
  }

  /**
   * Hands a request read from `from` to `owner` as it is (request_id, reply_to, caller) and acks
   * it, in one transaction: the owner answers it.
   */
  async handOff(
    owner: string,
    req: Request,
    from: { stream: string; group: string },
  ): Promise<void> {
    await this.redis
      .multi()
      .xadd(
        this.names.instanceCommands(owner),
        '*',
        ...requestFields({
          requestId: req.requestId,
          command: req.command.name,
          payload: req.payload,
          forwardedBy: this.me,
          ...(req.replyTo ? { replyTo: req.replyTo } : {}),
          ...(req.caller ? { caller: req.caller } : {}),
        }),
      )
      .xack(from.stream, from.group, req.entryId)
      .exec()
  }

  /** Hands the output events of request `requestId` to `onOutput`, until `stop`. */
  private relayOutput(
    requestId: string,
    onOutput: NonNullable<ForwardOptions['onOutput']>,
    onUpdate: ForwardOptions['onUpdate'],
  ) {
    let seen = false
    let exited = false
    let wake: (() => void) | undefined
    const stop = this.feed!.subscribe((event: SpawnerEvent) => {
      if (event.requestId !== requestId) return
      seen = true
      if (event.type === 'output') onOutput(event.stream, event.data)
      if (event.type === 'agent') onUpdate?.(event.update, event.seq)
      if (event.type === 'command_exit') {
        exited = true
        wake?.()
      }
    })
    return {
      stop,
      /**
       * Resolves once the command's exit is in (its output is before it), or after the grace. A
       * command that failed before it ran sent nothing, and is not waited for.
       */
      drained: (ok: boolean) =>
        exited || (!ok && !seen)
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, OUTPUT_GRACE_MS)
              wake = () => {
                clearTimeout(timer)
                resolve()
              }
            }),
    }
  }

  /** Starts reading after the last answer already there, so none of ours can be missed. */
  private async start() {
    const [last] = (await this.redis.xrevrange(
      this.names.instanceResponses(this.me),
      '+',
      '-',
      'COUNT',
      1,
    )) as [string, string[]][]
    this.cursor = last?.[0] ?? '0-0'
    if (this.stopped) throw new UnavailableError('instance is shutting down', 'shutting_down')
    // A blocking reader gets its own connection.
    const reader = this.redis.duplicate()
    reader.on('error', () => undefined)
    this.reader = reader
    void this.readLoop(reader)
  }

  private async readLoop(reader: Redis) {
    const stream = this.names.instanceResponses(this.me)
    while (!this.stopped) {
      let reply: ReadReply
      try {
        reply = (await reader.call(
          'XREAD',
          'BLOCK',
          '1000',
          'STREAMS',
          stream,
          this.cursor,
        )) as ReadReply
      } catch (err) {
        if (this.stopped) return
        this.logger.warn('forwarded answers: read failed', { error: String(err) })
        await new Promise((r) => setTimeout(r, 500))
        continue
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, flat] of entries) {
          this.cursor = id
          if (!flat) continue
          const fields = fieldsToRecord(flat)
          const waiter = fields.request_id ? this.waiting.get(fields.request_id) : undefined
          if (!waiter) continue
          clearTimeout(waiter.timer)
          this.waiting.delete(fields.request_id!)
          waiter.resolve(fields)
        }
      }
      // Answers are read once; keep the stream short.
      if (reply) await this.redis.xtrim(stream, 'MAXLEN', '~', 1000).catch(() => undefined)
    }
  }

  close() {
    this.stopped = true
    this.reader?.disconnect()
    for (const [, w] of this.waiting) {
      clearTimeout(w.timer)
      w.reject(new UnavailableError('instance is shutting down', 'shutting_down'))
    }
    this.waiting.clear()
  }
}
