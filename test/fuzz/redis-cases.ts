import fc from 'fast-check'
import { catalog } from '../../src/core/catalog.ts'
import { anyValue, badUtf8, brokenJsonText, mutate, nastyString, toJsonText } from './mutations.ts'
import { arbitraryOf, inputJsonSchema, type Hints } from './schema-arbitrary.ts'
import type { Constrain } from './http-cases.ts'

/**
 * A field value: text, bytes that are not UTF-8, or a marker filled in when the entry is sent —
 * a fresh request id, a stream of the producer's own (with a suffix), or a payload (JSON text of
 * it, worker references resolved). Text may hold `{prefix}`, the service's key prefix.
 */
export type FieldValue =
  | string
  | Uint8Array
  | { fresh: 'requestId' }
  /** The request id of the entry before it in the batch (a producer sending twice). */
  | { again: 'requestId' }
  | { ownStream: string }
  | { payload: unknown }

/** One stream entry as generated. */
export interface RedisCase {
  fields: [string | Uint8Array, FieldValue][]
}

const REQUEST_IDS = [
  '',
  ' ',
  'a b',
  'x'.repeat(201),
  'é',
  'req\n1',
  '\0',
  'req\t',
  'r'.repeat(1024 * 1024),
]
const COMMANDS = [
  '',
  'CREATE',
  'create ',
  'nope',
  '__proto__',
  'constructor',
  'toString',
  'x'.repeat(100_000),
]

/** Names the service keeps for itself, relative to its prefix (`reply_to` must be refused). */
export const OWN_NAMES = ['commands', 'event-log', 'dead', 'owners', 'answer:x', 'anything']

const payloadOf = (hints: Hints, constrain: Constrain) =>
  fc.constantFrom(...catalog).chain((cmd) =>
    arbitraryOf(inputJsonSchema(cmd.input), hints)
      .chain((v) =>
        fc.oneof({ weight: 1, arbitrary: fc.constant(v) }, { weight: 1, arbitrary: mutate(v) }),
      )
      .map((v) => ({ command: cmd.name, payload: constrain(cmd.name, v) })),
  )

/**
 * Entries as producers might write them: generated from the catalog's schemas and mutated, with
 * bad or missing request ids, unknown commands, payloads that are not JSON objects, binary
 * garbage, huge values, refused or overlong `reply_to`, extra and repeated fields.
 */
export const redisCase = (
  hints: Hints,
  constrain: Constrain = (_, v) => v,
): fc.Arbitrary<RedisCase> =>
  fc
    .record({
      request: payloadOf(hints, constrain),
      requestId: fc.oneof(
        { weight: 12, arbitrary: fc.constant<FieldValue>({ fresh: 'requestId' }) },
        { weight: 1, arbitrary: fc.constant<FieldValue>({ again: 'requestId' }) },
        { weight: 1, arbitrary: fc.constantFrom<FieldValue>(...REQUEST_IDS) },
        { weight: 1, arbitrary: badUtf8 },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
      command: fc.oneof(
        { weight: 12, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<FieldValue>(...COMMANDS) },
        { weight: 1, arbitrary: badUtf8 },
        { weight: 1, arbitrary: fc.constant(null) },
      ),
      payload: fc.oneof(
        { weight: 12, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: brokenJsonText },
        { weight: 1, arbitrary: badUtf8 },
        { weight: 1, arbitrary: anyValue.map((v) => toJsonText(v)) },
        { weight: 1, arbitrary: fc.constant(null) },
      ),
      // Never a name outside this run's keys: the Redis is shared.
      replyTo: fc.oneof(
        { weight: 12, arbitrary: fc.constant<FieldValue | undefined>(undefined) },
        { weight: 2, arbitrary: fc.constant({ ownStream: '' }) },
        { weight: 1, arbitrary: nastyString.map((s) => ({ ownStream: `:${s.slice(0, 100)}` })) },
        { weight: 1, arbitrary: fc.constantFrom(...OWN_NAMES).map((n) => `{prefix}:${n}`) },
        { weight: 1, arbitrary: fc.constantFrom('', `{prefix}:${'x'.repeat(513)}`) },
      ),
      extra: fc.oneof(
        { weight: 8, arbitrary: fc.constant([]) },
        {
          weight: 1,
          arbitrary: fc.array(
            fc.tuple(
              fc.oneof(
                fc.constantFrom('forwarded_by', 'ok', 'result', 'x', '', 'request_id', 'command'),
                badUtf8,
              ),
              fc.oneof(fc.string(), nastyString, badUtf8, fc.constant('v'.repeat(2 * 1024 * 1024))),
            ),
            { maxLength: 3 },
          ),
        },
      ),
      shuffle: fc.boolean(),
    })
    .map((r) => {
      const fields: RedisCase['fields'] = []
      if (r.requestId !== undefined) fields.push(['request_id', r.requestId])
      if (r.command !== null) fields.push(['command', r.command ?? r.request.command])
      if (r.payload !== null) fields.push(['payload', r.payload ?? { payload: r.request.payload }])
      if (r.replyTo !== undefined) fields.push(['reply_to', r.replyTo])
      // Extra fields go first unless shuffled, so a repeated name is mostly overridden by the real one.
      return { fields: r.shuffle ? [...fields, ...r.extra] : [...r.extra, ...fields] }
    })
