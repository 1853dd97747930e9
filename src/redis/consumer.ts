import type { Redis } from 'ioredis'
import { SpawnerError, toSpawnerError } from '../core/errors.ts'
import { httpStatusOf } from '../core/http-status.ts'
import type { Logger } from '../core/logger.ts'
import { noopLogger } from '../core/logger.ts'
import type { WorkerService } from '../core/service.ts'
import type { Principal } from '../core/auth/authorize.ts'
import { Dispatcher } from '../core/dispatcher.ts'
import { RedisForwarder } from './forwarder.ts'
import { parseEntry, type Parsed, type Request } from './protocol.ts'
import type { AutoClaimReply, PendingReply, ReadReply, StreamEntry } from './replies.ts'
import { Answers, type Answer } from './answers.ts'
import { trimHandled } from './trim.ts'
import { redisNames, replyToRefusal, type RedisNames, type RedisSettings } from './settings.ts'

export interface RedisConsumerOptions {
  /** Connection for ordinary commands; a duplicate is made for blocking reads. */
  redis: Redis
  service: WorkerService
  settings: RedisSettings
  /** This instance's name: its consumer name in the group and its owner name for workers. */
  instance: string
  logger?: Logger
  /** Longest close() waits for requests in flight before releasing them. */
  shutdownMs?: number
  /** Finds the owners of workers and hands requests to them (default: one of its own). */
  forwarder?: RedisForwarder
}

/** Errors worth another delivery: the engine was away, or something broke unexpectedly. */
const retryable = (e: SpawnerError) => httpStatusOf(e) === 503 || e.code === 'internal'

/** The answer to a request that failed after it started changing things: never run again. */
const interrupted = (requestId: string, cause: SpawnerError) =>
  new SpawnerError(
    'interrupted',
    `request '${requestId}' failed after it started (${cause.message}); it was not run again ` +
      '(it may or may not have taken effect)',
    { details: { cause: cause.toJSON() }, cause },
  )

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Serves the command catalog from Redis Streams: reads `cli-agent:commands` in a consumer
 * group (one consumer per instance), answers on `cli-agent:responses` or `reply_to`, and
 * acks only in the same transaction that stores and sends the answer.
 *
 * - Entries left pending by a dead instance are taken over with XAUTOCLAIM after
 *   `REDIS_CLAIM_IDLE_MS`; live instances keep their own entries fresh, so a long agent turn
 *   is never taken away from them.
 * - A repeated `request_id` gets the stored first answer; a request whose runner died
 *   mid-command is answered `interrupted` rather than run twice; so is one that failed for a
 *   passing reason after the service reported its first change (`onEffect`).
 * - A command for a worker owned by another instance is forwarded to that instance's stream.
 * - An entry that fails `REDIS_MAX_ATTEMPTS` times goes to the dead stream with its error.
 */
export class RedisConsumer {
  readonly names: RedisNames
  private readonly redis: Redis
  private readonly reader: Redis
  private readonly dispatcher: Dispatcher
  private readonly forwarder: RedisForwarder
  private readonly answers: Answers
  private readonly logger: Logger
  private readonly s: RedisSettings
  private readonly me: string
  private readonly myStream: string
  private readonly inFlight = new Map<
    string,
    { stream: string; id: string; requestId?: string; done: Promise<void> }
  >()
  private readonly runningHere = new Set<string>()
  /**
   * Requests in flight that run beside their worker's lane (watches): they wait, not work, for
   * as long as they last, so they leave REDIS_CONCURRENCY to the others; the service bounds them.
   */
  private beside = 0
  /** Per-worker queues: one worker's requests run in stream order, different workers at once. */
  private readonly lanes = new Map<string, Promise<void>>()
  private loop: Promise<void> | undefined
  private closing: Promise<void> | undefined
  private stopped = false
  private timers: ReturnType<typeof setInterval>[] = []
  private wake: (() => void) | undefined

  constructor(private readonly opts: RedisConsumerOptions) {
    this.redis = opts.redis
    this.logger = opts.logger ?? noopLogger
    this.reader = opts.redis.duplicate()
    // The main connection reports trouble; this one only must not crash the process.
    this.reader.on('error', () => undefined)
    this.s = opts.settings
    this.me = opts.instance
    this.names = redisNames(opts.settings)
    this.myStream = this.names.instanceCommands(this.me)
    this.answers = new Answers(opts.redis, this.names, opts.settings, this.logger)
    this.forwarder =
      opts.forwarder ?? new RedisForwarder(opts.redis, this.names, this.me, this.logger)
    this.dispatcher = new Dispatcher({
      service: opts.service,
      forwarder: this.forwarder,
      logger: this.logger,
    })
  }

  /** Starts reading. A second call is refused. */
  async run(): Promise<void> {
    if (this.loop) throw new Error('RedisConsumer is already running')
    for (const stream of [this.names.commands, this.myStream]) await this.ensureGroup(stream)
    await this.heartbeat()
    const beat = Math.max(75, Math.min(5000, Math.floor(this.s.REDIS_CLAIM_IDLE_MS / 4)))
    this.timers.push(
      setInterval(
        () => void this.keepAlive().catch((e) => this.warn('keep-alive failed', e)),
        beat,
      ),
    )
    this.timers.push(
      setInterval(
        () => void this.claimIdle().catch((e) => this.warn('claim failed', e)),
        Math.max(100, Math.floor(this.s.REDIS_CLAIM_IDLE_MS / 2)),
      ),
    )
    // This instance's own stream is read by no one else: what it handled can go.
    const trim = () => trimHandled(this.redis, this.myStream, this.names.group)
    this.timers.push(
      setInterval(
        () => void trim().catch((e) => this.warn('trim failed', e)),
        Math.max(1000, this.s.REDIS_CLAIM_IDLE_MS),
      ),
    )
    // Entries this consumer held before a restart come back first.
    await this.recoverOwn()
    this.logger.info('redis consumer started', {
      instance: this.me,
      stream: this.names.commands,
      group: this.names.group,
    })
    this.loop = this.readLoop()
  }

  /** Stops reading, lets requests in flight finish (up to `shutdownMs`), then releases the rest. */
  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  private async doClose() {
    this.stopped = true
    this.wake?.()
    try {
      this.reader.disconnect()
    } catch (err) {
      this.warn('reader disconnect failed', err)
    }
    try {
      await this.loop
    } catch (err) {
      this.warn('read loop ended with an error', err)
    }
    const waiting = [...this.inFlight.values()].map((f) => f.done)
    const deadline = sleep(this.opts.shutdownMs ?? 25_000).then(() => 'timeout' as const)
    const outcome = await Promise.race([
      Promise.allSettled(waiting).then(() => 'done' as const),
      deadline,
    ])
    if (outcome === 'timeout') {
      this.logger.warn('redis consumer released unfinished requests', { count: this.inFlight.size })
    }
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    try {
      await this.redis.del(this.names.instanceAlive(this.me))
    } catch (err) {
      this.warn('heartbeat removal failed', err)
    }
    this.logger.info('redis consumer stopped', { instance: this.me })
  }

  private async ensureGroup(stream: string) {
    try {
      // From the start of the stream: requests added before the first instance ran are served.
      await this.redis.xgroup('CREATE', stream, this.names.group, '0', 'MKSTREAM')
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err
    }
  }

  /** Entries this consumer may take on now. */
  private free(): number {
    return this.s.REDIS_CONCURRENCY - (this.inFlight.size - this.beside)
  }

  private async readLoop() {
    while (!this.stopped) {
      const free = this.free()
      if (free <= 0) {
        await new Promise<void>((r) => (this.wake = r))
        continue
      }
      let reply: ReadReply
      try {
        reply = (await this.reader.call(
          'XREADGROUP',
          'GROUP',
          this.names.group,
          this.me,
          'COUNT',
          String(free),
          'BLOCK',
          String(this.s.REDIS_BLOCK_MS),
          'STREAMS',
          this.names.commands,
          this.myStream,
          '>',
          '>',
        )) as ReadReply
      } catch (err) {
        if (this.stopped) break
        this.warn('read failed; retrying', err)
        await sleep(500)
        continue
      }
      for (const [stream, entries] of reply ?? []) {
        for (const [id, fields] of entries) this.dispatch(stream, id, fields)
      }
    }
  }

  private dispatch(stream: string, id: string, fields: string[] | null) {
    const key = `${stream} ${id}`
    if (this.inFlight.has(key)) return
    if (fields === null) {
      // Trimmed or deleted before anyone read it: nothing to answer.
      void this.redis.xack(stream, this.names.group, id).catch((e) => this.warn('ack failed', e))
      return
    }
    const parsed = this.parse(id, fields)
    const entry: { stream: string; id: string; requestId?: string; done: Promise<void> } = {
      stream,
      id,
      done: Promise.resolve(),
    }
    if (parsed.ok) entry.requestId = parsed.request.requestId
    const workerId = parsed.ok
      ? (parsed.request.payload as { workerId?: unknown }).workerId
      : undefined
    // A long-lived call (a watch) runs beside the worker's lane, not in front of its next request.
    const beside = parsed.ok && parsed.request.command.background === true
    const lane = typeof workerId === 'string' && !beside ? workerId : undefined
    const before = (lane && this.lanes.get(lane)) || Promise.resolve()
    const work = before.then(() => this.handle(stream, parsed))
    if (lane) {
      const tail = work.catch(() => undefined)
      this.lanes.set(lane, tail)
      void tail.then(() => {
        if (this.lanes.get(lane) === tail) this.lanes.delete(lane)
      })
    }
    if (beside) this.beside++
    entry.done = work
      .catch((err: unknown) => this.answers.failed(stream, id, err))
      .finally(() => {
        if (beside) this.beside--
        this.inFlight.delete(key)
        this.wake?.()
      })
    this.inFlight.set(key, entry)
  }

  private async handle(stream: string, parsed: Parsed): Promise<void> {
    if (!parsed.ok) {
      this.logger.warn('malformed request answered', {
        entryId: parsed.entryId,
        requestId: parsed.requestId,
        code: parsed.error.code,
        message: parsed.error.message,
      })
      const meta = { ...parsed, store: false }
      await this.answers.send(stream, parsed.entryId, meta, { ok: false, error: parsed.error })
      return
    }
    const req = parsed.request
    const stored = await this.answers.stored(req.requestId)
    if (stored !== null) return this.answers.resend(stream, req, stored)

    // Validated, checked and placed: another instance's worker is handed to it with the entry's
    // request_id and reply_to, and answered there.
    const principal: Principal = req.caller
      ? { kind: 'forwarded', workerId: req.caller }
      : { kind: 'operator' }
    let call
    try {
      call = await this.dispatcher.prepare(principal, req.command, req.payload, {
        inputName: 'payload',
      })
    } catch (err) {
      const error = toSpawnerError(err)
      if (retryable(error)) throw error
      // Refused before running: not stored, so a corrected request may reuse its request_id.
      const meta = { ...req, store: false, held: false }
      return this.answers.send(stream, req.entryId, meta, { ok: false, error })
    }
    if (call.owner) {
      const fields = { requestId: req.requestId, owner: call.owner.instance }
      if (!call.owner.alive) {
        const { workerId } = call.input
        this.logger.warn('request kept for a stopped owner', { ...fields, workerId })
      }
      this.logger.debug('request forwarded', fields)
      return this.forwarder.handOff(call.owner.instance, req, { stream, group: this.names.group })
    }

    // The lease lives as long as answers do: if its holder dies, whoever takes over sees it
    // and answers `interrupted` instead of running the command a second time.
    const running = this.names.running(req.requestId)
    const claimed = await this.redis.set(
      running,
      this.me,
      'EX',
      this.s.REDIS_DEDUPE_TTL_SECONDS,
      'NX',
    )
    if (claimed !== 'OK') return this.awaitOther(stream, req)

    this.runningHere.add(req.requestId)
    let answer: Answer
    // Set by the service right before the command first changes something.
    let started = false
    const hooks = { requestId: req.requestId, onEffect: () => void (started = true) }
    try {
      answer = { ok: true, result: await this.dispatcher.result(call, hooks) }
    } catch (err) {
      const error = toSpawnerError(err)
      if (retryable(error) && !started) {
        this.runningHere.delete(req.requestId)
        await this.redis.del(running)
        throw error
      }
      if (retryable(error)) {
        this.logger.warn('request failed after it started; answered interrupted', {
          requestId: req.requestId,
          command: req.command.name,
          code: error.code,
        })
      }
      answer = { ok: false, error: retryable(error) ? interrupted(req.requestId, error) : error }
    }
    try {
      await this.answers.send(stream, req.entryId, req, answer)
    } finally {
      this.runningHere.delete(req.requestId)
    }
  }

  /**
   * Another runner holds this request_id (a duplicate entry, or a takeover): wait for its
   * answer while it lives; if it died mid-command, answer `interrupted` instead of running it
   * a second time.
   */
  private async awaitOther(stream: string, req: Request): Promise<void> {
    for (;;) {
      const stored = await this.answers.stored(req.requestId)
      if (stored !== null) return this.answers.resend(stream, req, stored)
      const holder = await this.redis.get(this.names.running(req.requestId))
      const holderAlive =
        holder !== null &&
        (holder === this.me ? this.runningHere.has(req.requestId) : await this.isAlive(holder))
      // The runner gave up after a retryable failure: run it here.
      if (holder === null) return this.handle(stream, { ok: true, request: req })
      if (!holderAlive) {
        const error = new SpawnerError(
          'interrupted',
          `request '${req.requestId}' was running on instance '${holder}', which stopped before answering; ` +
            'it was not run again (it may or may not have taken effect)',
        )
        this.logger.warn('request interrupted by a dead instance', {
          requestId: req.requestId,
          holder,
        })
        return this.answers.send(stream, req.entryId, req, { ok: false, error })
      }
      if (this.stopped) throw new SpawnerError('shutting_down', 'instance is shutting down')
      await sleep(200)
    }
  }

  private parse(id: string, fields: string[]): Parsed {
    const refuse = (replyTo: string) => replyToRefusal(this.names, replyTo)
    return parseEntry(id, fields, this.s.REDIS_MAX_PAYLOAD_BYTES, refuse)
  }

  private async isAlive(instance: string): Promise<boolean> {
    return (await this.redis.exists(this.names.instanceAlive(instance))) === 1
  }

  /**
   * The heartbeat outlives three missed beats but expires before a dead instance's entries
   * become claimable, so whoever takes them over already sees the instance as gone.
   */
  private async heartbeat() {
    const ttl = Math.max(300, Math.min(15_000, Math.floor((this.s.REDIS_CLAIM_IDLE_MS * 3) / 4)))
    await this.redis.set(this.names.instanceAlive(this.me), String(Date.now()), 'PX', ttl)
  }

  /** Keeps this instance's heartbeat and entries fresh so nobody takes over live work. */
  private async keepAlive() {
    await this.heartbeat()
    const byStream = new Map<string, string[]>()
    for (const f of this.inFlight.values())
      byStream.set(f.stream, [...(byStream.get(f.stream) ?? []), f.id])
    const p = this.redis.pipeline()
    for (const [stream, ids] of byStream)
      p.xclaim(stream, this.names.group, this.me, 0, ...ids, 'JUSTID')
    await p.exec()
  }

  /** Takes over entries idle past the claim time (a dead instance's, or our own failures). */
  private async claimIdle() {
    if (this.stopped) return
    for (const stream of [this.names.commands, this.myStream]) {
      let cursor = '0-0'
      do {
        const free = this.free()
        if (free <= 0) return
        const [next, entries] = (await this.redis.call(
          'XAUTOCLAIM',
          stream,
          this.names.group,
          this.me,
          String(this.s.REDIS_CLAIM_IDLE_MS),
          cursor,
          'COUNT',
          String(Math.min(free, 100)),
        )) as AutoClaimReply
        cursor = next
        for (const entry of entries) await this.takeOver(stream, entry)
      } while (cursor !== '0-0' && !this.stopped)
    }
  }

  /** Re-reads what this consumer held before a restart. */
  private async recoverOwn() {
    for (const stream of [this.names.commands, this.myStream]) {
      const reply = (await this.redis.call(
        'XREADGROUP',
        'GROUP',
        this.names.group,
        this.me,
        'COUNT',
        '1000',
        'STREAMS',
        stream,
        '0',
      )) as ReadReply
      for (const [, entries] of reply ?? [])
        for (const entry of entries) await this.takeOver(stream, entry)
    }
  }

  private async takeOver(stream: string, [id, fields]: StreamEntry) {
    if (this.inFlight.has(`${stream} ${id}`)) return
    const [pending] = (await this.redis.call(
      'XPENDING',
      stream,
      this.names.group,
      id,
      id,
      '1',
    )) as PendingReply
    const deliveries = pending?.[3] ?? 1
    if (fields !== null && deliveries > this.s.REDIS_MAX_ATTEMPTS)
      return this.deadLetter(stream, id, fields, deliveries)
    this.logger.info('request taken over', { stream, entryId: id, deliveries })
    this.dispatch(stream, id, fields)
  }

  private async deadLetter(stream: string, id: string, fields: string[], deliveries: number) {
    const last =
      (await this.redis.get(this.answers.failureKey(stream, id))) ??
      JSON.stringify({ code: 'unknown', message: 'no error recorded' })
    const parsed = this.parse(id, fields)
    const error = new SpawnerError(
      'dead_lettered',
      `gave up after ${deliveries - 1} attempts; last error: ${(JSON.parse(last) as { message?: string }).message ?? 'unknown'}`,
    )
    this.logger.error('request dead-lettered', { stream, entryId: id, deliveries })
    await this.redis.xadd(
      this.names.dead,
      'MAXLEN',
      '~',
      this.s.REDIS_DEAD_MAXLEN,
      '*',
      'stream',
      stream,
      'entry_id',
      id,
      'deliveries',
      String(deliveries),
      'error',
      last,
      ...fields,
    )
    const meta = parsed.ok ? parsed.request : parsed
    await this.answers.send(stream, id, meta, { ok: false, error })
  }

  private warn(msg: string, err: unknown) {
    this.logger.warn(msg, { error: err instanceof Error ? err.message : String(err) })
  }
}
