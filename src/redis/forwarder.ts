import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { SpawnerError, UnavailableError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { fieldsToRecord, requestFields } from './protocol.ts'
import type { ReadReply } from './replies.ts'
import type { RedisNames } from './settings.ts'

type Waiter = { resolve: (fields: Record<string, string>) => void; reject: (err: Error) => void; timer: ReturnType<typeof setTimeout> }

/**
 * Sends a request that entered this instance (over HTTP) to the instance that owns the
 * worker, through that instance's command stream, and waits for its answer on this
 * instance's own response stream.
 */
export class Forwarder {
  private readonly waiting = new Map<string, Waiter>()
  private started: Promise<void> | undefined
  private stopped = false
  private cursor = '0-0'
  private readonly reader: Redis

  constructor(
    private readonly redis: Redis,
    private readonly names: RedisNames,
    private readonly me: string,
    private readonly logger: Logger,
  ) {
    this.reader = redis.duplicate()
    this.reader.on('error', () => undefined)
  }

  /** The live instance other than this one that owns `workerId`, if any. */
  async remoteOwner(workerId: string): Promise<string | undefined> {
    const owner = await this.redis.hget(this.names.owners, workerId)
    if (!owner || owner === this.me) return undefined
    const alive = (await this.redis.exists(this.names.instanceAlive(owner))) === 1
    return alive ? owner : undefined
  }

  /** Runs `command` at `owner`; resolves with its result or throws its error. */
  async call(owner: string, command: string, payload: unknown, timeoutMs: number, caller?: string): Promise<unknown> {
    await (this.started ??= this.start())
    const requestId = `fwd-${this.me}-${randomBytes(8).toString('hex')}`
    const answer = new Promise<Record<string, string>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId)
        reject(new UnavailableError(`instance '${owner}' did not answer within ${timeoutMs} ms`, 'owner_timeout'))
      }, timeoutMs)
      this.waiting.set(requestId, { resolve, reject, timer })
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
        ...(caller ? { caller } : {}),
      }),
    )
    const f = await answer
    if (f.ok === '1') return JSON.parse(f.result ?? 'null')
    const e = JSON.parse(f.error ?? '{}') as { code?: string; message?: string; details?: unknown }
    throw new SpawnerError(e.code ?? 'remote_error', Number(f.status ?? 502), e.message ?? 'remote error', e.details)
  }

  /** Starts reading after the last answer already there, so none of ours can be missed. */
  private async start() {
    const [last] = (await this.redis.xrevrange(this.names.instanceResponses(this.me), '+', '-', 'COUNT', 1)) as [string, string[]][]
    this.cursor = last?.[0] ?? '0-0'
    void this.readLoop()
  }

  private async readLoop() {
    const stream = this.names.instanceResponses(this.me)
    while (!this.stopped) {
      let reply: ReadReply
      try {
        reply = (await this.reader.call('XREAD', 'BLOCK', '1000', 'STREAMS', stream, this.cursor)) as ReadReply
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
    this.reader.disconnect()
    for (const [, w] of this.waiting) {
      clearTimeout(w.timer)
      w.reject(new UnavailableError('instance is shutting down', 'shutting_down'))
    }
    this.waiting.clear()
  }
}
