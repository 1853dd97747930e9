import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import type { SpawnerEvent } from '../../src/core/events.ts'
import {
  redisNames,
  redisSettingsSchema,
  type RedisNames,
  type RedisSettings,
} from '../../src/redis/settings.ts'
import { REDIS_URL } from '../setup/redis.global.ts'

/** Settings for an isolated run: a fresh key prefix, short claim times. */
export const testSettings = (
  overrides: Partial<Record<keyof RedisSettings, string>> = {},
): RedisSettings =>
  redisSettingsSchema.parse({
    REDIS_URL,
    REDIS_PREFIX: `test-${randomBytes(4).toString('hex')}`,
    REDIS_BLOCK_MS: '200',
    REDIS_CLAIM_IDLE_MS: '1500',
    ...overrides,
  })

export interface Response {
  id: string
  fields: Record<string, string>
  requestId?: string
  ok: boolean
  result?: any
  error?: { code: string; message: string }
}

/** A Redis producer as a workflow engine would write it: XADD requests, read responses. */
export class Producer {
  readonly redis: Redis
  readonly names: RedisNames
  private cursor = '0'
  private seen: Response[] = []

  constructor(readonly settings: RedisSettings) {
    this.redis = new Redis(settings.REDIS_URL)
    this.names = redisNames(settings)
  }

  /** Adds a request; returns its entry id. */
  send(
    command: string,
    payload: unknown,
    requestId = `req-${randomBytes(6).toString('hex')}`,
    extra: string[] = [],
  ) {
    return this.sendRaw([
      'request_id',
      requestId,
      'command',
      command,
      'payload',
      JSON.stringify(payload),
      ...extra,
    ]).then(() => requestId)
  }

  async sendRaw(fields: string[]): Promise<string> {
    return (await this.redis.xadd(this.names.commands, '*', ...fields)) as string
  }

  /** Every response so far (read incrementally). */
  async responses(stream = this.names.responses): Promise<Response[]> {
    const rows = (await this.redis.xrange(
      stream,
      this.cursor === '0' ? '-' : `(${this.cursor}`,
      '+',
    )) as [string, string[]][]
    for (const [id, flat] of rows) {
      const fields: Record<string, string> = {}
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
      this.seen.push({
        id,
        fields,
        ...(fields.request_id ? { requestId: fields.request_id } : {}),
        ok: fields.ok === '1',
        ...(fields.result ? { result: JSON.parse(fields.result) } : {}),
        ...(fields.error ? { error: JSON.parse(fields.error) } : {}),
      })
      this.cursor = id
    }
    return this.seen
  }

  /** Waits for the response to `requestId`. */
  async response(requestId: string, timeoutMs = 60_000): Promise<Response> {
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      const found = (await this.responses()).find((r) => r.requestId === requestId)
      if (found) return found
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`no response to ${requestId} within ${timeoutMs} ms`)
  }

  /** Sends and waits; returns the result or throws the error JSON. */
  async call(command: string, payload: unknown, timeoutMs = 300_000): Promise<any> {
    const r = await this.response(await this.send(command, payload), timeoutMs)
    if (!r.ok) throw new Error(`${command} failed: ${JSON.stringify(r.error)}`)
    return r.result
  }

  /** Collects pub/sub events on a channel until `stop()`. */
  async listen(channel: string): Promise<{ events: SpawnerEvent[]; stop: () => void }> {
    const sub = this.redis.duplicate()
    const events: SpawnerEvent[] = []
    sub.on('message', (_c: string, m: string) => events.push(JSON.parse(m) as SpawnerEvent))
    await sub.subscribe(channel)
    return { events, stop: () => sub.disconnect() }
  }

  /** Deletes every key of this run's prefix. */
  async cleanup() {
    const keys = await this.redis.keys(`${this.settings.REDIS_PREFIX}:*`)
    if (keys.length) await this.redis.del(...keys)
    this.redis.disconnect()
  }
}

export const waitFor = async <T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A Redis server of the test's own, which it can freeze without disturbing anyone else. */
export interface PrivateRedis {
  url: string
  /** Stops the server process (SIGSTOP): it accepts bytes into its socket and answers nothing. */
  freeze(): void
  thaw(): void
  stop(): Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })

/** Starts `redis-server` on a free loopback port, without persistence, and waits for PONG. */
export const startPrivateRedis = async (): Promise<PrivateRedis> => {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  )
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  // Refused until the server listens: expected, and retried below.
  probe.on('error', () => undefined)
  try {
    await waitFor(
      () =>
        probe.connect().then(
          () => probe.ping(),
          () => undefined,
        ),
      10_000,
      'private redis-server',
    )
  } finally {
    probe.disconnect()
  }
  return {
    url,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    async stop() {
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      await exited
    },
  }
}
