import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { findCommand } from '../../src/core/catalog.ts'
import type { Logger } from '../../src/core/logger.ts'
import type { RedisNames } from '../../src/redis/settings.ts'
import { checkErrorObject, checkOutput, isAgentFailure, FuzzFailure, short } from './invariants.ts'
import { toJsonText } from './mutations.ts'
import type { FieldValue, RedisCase } from './redis-cases.ts'
import { resolveRefs } from './target.ts'

/** The consumer's own rule for request ids (see src/redis/protocol.ts). */
const REQUEST_ID = /^[\x21-\x7e]{1,200}$/

/** Where a batch is sent and its answers are found. */
export interface RedisBench {
  redis: Redis
  names: RedisNames
  /** Every `reply_to` this producer uses starts with it (outside the service's prefix). */
  ownStream: string
}

/** Log lines that mean an entry failed inside the service (an internal error, a retry). */
export const recordingLogger = () => {
  const trouble: string[] = []
  const logger: Logger = {
    debug() {},
    info() {},
    warn(msg, fields) {
      if (msg !== 'malformed request answered') trouble.push(`${msg} ${JSON.stringify(fields)}`)
    },
    error(msg, fields) {
      // The one 5xx allowed: an agent CLI that gave no reply (502 agent_error) is logged with
      // its cause, and is not the service failing.
      if (msg === 'request failed' && (fields as { code?: unknown })?.code === 'agent_error') return
      trouble.push(`${msg} ${JSON.stringify(fields)}`)
    },
  }
  return { logger, trouble }
}

interface Sent {
  entryId: string
  /** The request id the consumer sees (the last `request_id` field), if it is a valid one. */
  requestId?: string
  command?: string
  fields: (string | Buffer)[]
}

const text = (v: string | Uint8Array) =>
  typeof v === 'string' ? v : Buffer.from(v).toString('utf8')

const materialize = (
  v: FieldValue,
  bench: RedisBench,
  fresh: string,
  previous: string,
  ids: readonly string[],
): string | Buffer => {
  if (v instanceof Uint8Array) return Buffer.from(v)
  if (typeof v === 'string') return v.replaceAll('{prefix}', bench.names.prefix)
  if ('fresh' in v) return fresh
  if ('again' in v) return previous
  if ('ownStream' in v) return `${bench.ownStream}${v.ownStream}`
  return toJsonText(resolveRefs(v.payload, ids))
}

/** Sends a batch of entries in one pipeline. */
const send = async (
  bench: RedisBench,
  batch: RedisCase[],
  ids: readonly string[],
): Promise<Sent[]> => {
  const p = bench.redis.pipeline()
  const sent: Omit<Sent, 'entryId'>[] = []
  let previous = `fuzz-${randomBytes(6).toString('hex')}`
  for (const c of batch) {
    const fresh = `fuzz-${randomBytes(6).toString('hex')}`
    const fields = c.fields.flatMap(([k, v]) => [
      typeof k === 'string' ? k : Buffer.from(k),
      materialize(v, bench, fresh, previous, ids),
    ])
    if (c.fields.some(([, v]) => typeof v === 'object' && 'fresh' in v)) previous = fresh
    if (fields.length === 0) fields.push('x', 'y')
    const record = new Map<string, string>()
    for (let i = 0; i < fields.length; i += 2) record.set(text(fields[i]!), text(fields[i + 1]!))
    const rid = record.get('request_id')
    sent.push({
      ...(rid !== undefined && REQUEST_ID.test(rid) ? { requestId: rid } : {}),
      ...(record.has('command') ? { command: record.get('command')! } : {}),
      fields,
    })
    p.xadd(bench.names.commands, '*', ...fields)
  }
  const results = (await p.exec()) ?? []
  return sent.map((s, i) => {
    const [err, id] = results[i]!
    if (err) throw err
    return { ...s, entryId: id as string }
  })
}

interface Answer {
  stream: string
  fields: Record<string, string>
}

/** The responses stream and every stream of this producer's own. */
const answerStreams = async (bench: RedisBench): Promise<string[]> => {
  const streams = [bench.names.responses]
  let cursor = '0'
  do {
    const [next, keys] = await bench.redis.scan(
      cursor,
      'MATCH',
      `${bench.ownStream}*`,
      'COUNT',
      1000,
    )
    cursor = next
    streams.push(...keys)
  } while (cursor !== '0')
  return streams
}

/** The last entry id of each answer stream (ids are per stream: they cannot be compared across). */
const lastIds = async (bench: RedisBench): Promise<Map<string, string>> => {
  const out = new Map<string, string>()
  for (const stream of await answerStreams(bench)) {
    const [last] = (await bench.redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [
      string,
      string[],
    ][]
    if (last) out.set(stream, last[0])
  }
  return out
}

/** Every answer added since `before` was taken. */
const answersSince = async (bench: RedisBench, before: Map<string, string>): Promise<Answer[]> => {
  const out: Answer[] = []
  for (const stream of await answerStreams(bench)) {
    if ((await bench.redis.type(stream)) !== 'stream') continue
    const from = before.get(stream)
    for (const [, flat] of await bench.redis.xrange(stream, from ? `(${from}` : '-', '+')) {
      const fields: Record<string, string> = {}
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
      out.push({ stream, fields })
    }
  }
  return out
}

/** Longest a batch may take to be answered before it counts as a lost entry. */
const ANSWER_MS = 60_000

/**
 * Sends `batch`, waits until every entry is answered, then checks the answers: one per entry
 * (by request id where it has a valid one, by entry id otherwise), `ok 0` answers carry the
 * error JSON and a status below 500, `ok 1` results fit the command's output schema, and the
 * service logged no failure. Returns tally keys.
 */
export const runRedisBatch = async (
  bench: RedisBench,
  batch: RedisCase[],
  ids: readonly string[],
  trouble: string[],
): Promise<string[]> => {
  const before = await lastIds(bench)
  const sent = await send(bench, batch, ids)
  const describe = (s: Sent) =>
    `entry ${s.entryId} ${short(JSON.stringify(s.fields.map((f) => (typeof f === 'string' ? f : `<bytes ${f.toString('hex').slice(0, 40)}>`))), 600)}`
  const expectedById = new Map<string, Sent[]>()
  for (const s of sent)
    if (s.requestId) expectedById.set(s.requestId, [...(expectedById.get(s.requestId) ?? []), s])
  const matches = (s: Sent, answers: Answer[]) =>
    s.requestId
      ? answers.filter((a) => a.fields.request_id === s.requestId)
      : answers.filter((a) => a.fields.entry_id === s.entryId)
  const until = Date.now() + ANSWER_MS
  let answers: Answer[] = []
  for (;;) {
    answers = await answersSince(bench, before)
    if (trouble.length) {
      const culprit = sent.find((s) =>
        trouble.some((t) => t.includes(s.entryId) || (s.requestId && t.includes(s.requestId))),
      )
      throw new FuzzFailure(
        `the service logged: ${trouble.splice(0).join('\n  ')}`,
        culprit ? describe(culprit) : `a batch of ${sent.length}`,
      )
    }
    const expected = (s: Sent) => (s.requestId ? expectedById.get(s.requestId)!.length : 1)
    const missing = sent.filter((s) => matches(s, answers).length < expected(s))
    if (missing.length === 0) break
    if (Date.now() > until)
      throw new FuzzFailure(`no answer within ${ANSWER_MS} ms`, describe(missing[0]!))
    await new Promise((r) => setTimeout(r, 25))
  }
  const keys: string[] = []
  for (const s of sent) {
    const mine = matches(s, answers)
    const expected = s.requestId ? expectedById.get(s.requestId)!.length : 1
    if (mine.length !== expected) {
      throw new FuzzFailure(
        `${mine.length} answers, expected ${expected}: ${short(JSON.stringify(mine), 600)}`,
        describe(s),
      )
    }
    const a = mine[0]!.fields
    if (s.requestId === undefined && a.request_id !== undefined) {
      throw new FuzzFailure(
        `answered with request_id '${a.request_id}' to an entry without a valid one`,
        describe(s),
      )
    }
    if (a.ok === '1') {
      const cmd = findCommand(a.command ?? '')
      // A request id met before (one the fuzzer did not make fresh) gets that first request's answer.
      const fresh = s.requestId?.startsWith('fuzz-') && expected === 1
      if (!cmd || (fresh && cmd.name !== s.command))
        throw new FuzzFailure(`ok 1 for command '${a.command}'`, describe(s))
      checkOutput(cmd, a.result ?? '', describe(s))
      keys.push('ok')
    } else if (a.ok === '0') {
      let error: unknown
      try {
        error = JSON.parse(a.error ?? '')
      } catch {
        throw new FuzzFailure(`error field is not JSON: ${short(a.error ?? '(none)')}`, describe(s))
      }
      const code = checkErrorObject(error, a.error!, describe(s))
      const status = Number(a.status)
      if (
        !Number.isInteger(status) ||
        status < 400 ||
        (status >= 500 && !isAgentFailure(status, code))
      ) {
        throw new FuzzFailure(`ok 0 with status '${a.status}' (${code})`, describe(s))
      }
      keys.push(`${status} ${code}`)
    } else {
      throw new FuzzFailure(`answer without ok: ${short(JSON.stringify(a))}`, describe(s))
    }
  }
  return keys
}
