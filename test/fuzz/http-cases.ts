import fc from 'fast-check'
import { catalog, type Command } from '../../src/core/catalog.ts'
import {
  Raw,
  anyValue,
  badUtf8,
  brokenJsonText,
  mutate,
  nastyString,
  toJsonText,
  toQueryText,
  trickyPath,
} from './mutations.ts'
import { arbitraryOf, inputJsonSchema, type Hints } from './schema-arbitrary.ts'
import { isPlain, WorkerRef } from './target.ts'

/** Makes a generated command input safe to run on a target (see FuzzTarget.constrain). */
export type Constrain = (command: string, input: unknown) => unknown

/** Who a request claims to be. */
export type Auth =
  /** The credentials the app expects of its usual caller (operator, or a worker on its surface). */
  | { kind: 'usual'; worker: WorkerRef }
  | { kind: 'none' }
  | { kind: 'operator' }
  | { kind: 'header'; value: string }
  /** A token signed with the service's secret over these claims (WorkerRefs resolved first). */
  | { kind: 'signed'; claims: unknown; tamper: boolean }

export type Body =
  { kind: 'none' } | { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array }

/** One HTTP request, before worker references are resolved. */
export interface HttpCase {
  app: number
  method: string
  /** The catalog command whose route this aims at, if any. */
  command?: string
  /** Path with `{id}` where the worker id goes. */
  path: string
  id: unknown
  query: [string, unknown][]
  rawQuery: string
  body: Body
  contentType: string | undefined
  accept: string | undefined
  auth: Auth
  host: string
  origin: string | undefined
  site: string | undefined
  /** Leave a streamed answer (SSE) at once, as a client that goes away. */
  leave: boolean
}

const METHODS = [
  'GET',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PROPFIND',
  'FOO',
  'patch',
  'Get',
]

const OTHER_PATHS = [
  '/',
  '/v1',
  '/v1/',
  '/v1/whoami',
  '/v1/events',
  '/healthz',
  '/readyz',
  '/openapi.json',
  '/docs',
  '/metrics',
  '/v1/workers/',
  '/v1/workers//commands',
  '/v1/workers/{id}/',
  '/v1/workers/{id}/files/x',
  '/v1/workers/{id}/nothing',
  '/v1/workers/%2e%2e/commands',
  '/v1/workers/{id}/%2e%2e/commands',
  '/v1/./workers',
  '/v1/workers/../healthz',
  '//v1/workers',
  '/V1/WORKERS',
  '/v1/workers/{id}%00',
  '/v1/workers/{id}/commands/',
  '/v1/plugins/..',
  `/v1/${'a'.repeat(70_000)}`,
  '/v1/workers/\u00e9',
  '/v1/workers/%ff%fe',
  '/v1/workers/%',
]

const RAW_QUERIES = [
  '',
  '%',
  '%zz',
  'a=%E0%A4%A',
  '&&&',
  '=x',
  'path',
  'path=',
  'path=%00',
  'follow=1',
  'follow=1&follow=1',
  'tail=1e309',
  'tail=-0',
  'since=0x10',
  'label=a=b&label=a=c',
  'label==x',
  'label',
  '__proto__=1',
  '__proto__=1&__proto__=2',
  'constructor=1&constructor=2',
  'workerId=w-0123456789abcdef',
  'encoding=utf8&encoding=base64',
  'worker=x&type=status,,output',
  '#frag',
  '+=+',
  'a[]=1&a[b]=2',
]

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json;charset="utf-16"',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'application/problem+json; x=y',
  'application/jsonx',
  'text/plain',
  'text/plain;charset=UTF-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  ';',
  'application/json;;;',
  ' application/json ',
  'application/\u00e9',
]

const ACCEPTS = [
  undefined,
  'application/json',
  'text/event-stream',
  '*/*',
  'text/event-stream, application/json',
  'text/html',
  '',
]

const HOSTS = [
  'localhost',
  'localhost',
  '127.0.0.1:8080',
  '[::1]:80',
  'spawner.lan',
  'evil.test',
  'localhost.',
  'LOCALHOST',
  '127.0.0.1.nip.io',
  'host.docker.internal:41234',
]

const ORIGINS = [
  'null',
  'http://localhost',
  'https://evil.test',
  'http://127.0.0.1:8080',
  '',
  'garbage',
  'file://',
]

const AUTH_HEADERS = [
  'Bearer',
  'Bearer ',
  'bearer x',
  'Basic dXNlcjpwYXNz',
  'Bearer a.b.c',
  'Bearer ..',
  'Bearer e30.e30.e30',
  'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.%%%',
  'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.!!!.AAAA',
  'Bearer eyJhbGciOiJub25lIn0.e30.',
  `Bearer ${'x'.repeat(10_000)}`,
  `Bearer ${'a.'.repeat(2)}${'b'.repeat(100_000)}`,
  'Bearer \u00e9\u00e9.\u00e9.\u00e9',
]

/** Claims of a hand-signed token: the real shape with odd values, or anything at all. */
const claims = (tools: string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        iss: fc.constant('workers-spawner'),
        sub: fc.nat(7).map((i) => new WorkerRef(i)),
        tools: fc.oneof(fc.constant(tools), fc.subarray(tools)),
        iat: fc.constant(Math.floor(Date.now() / 1000)),
        exp: fc.constant(4102444800),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        iss: fc.constantFrom('workers-spawner', 'workers-spawner', 'someone'),
        sub: fc.oneof(
          fc.nat(7).map((i) => new WorkerRef(i)),
          fc.constantFrom('w-0123456789abcdef', '', '__proto__', '../x'),
          nastyString,
        ),
        tools: fc.oneof(
          { weight: 5, arbitrary: fc.subarray(tools) },
          { weight: 1, arbitrary: anyValue },
        ),
        iat: fc.constantFrom(0, Math.floor(Date.now() / 1000)),
        exp: fc.oneof(
          fc.constantFrom(Math.floor(Date.now() / 1000) + 3600, 4102444800, 1, 0),
          oddNumber(),
        ),
      }),
    },
    { weight: 1, arbitrary: anyValue },
  )

const oddNumber = () => fc.constantFrom(new Raw('1e309'), new Raw('-0'), '9999999999', 1.5, null)

const auth = (tools: string[]): fc.Arbitrary<Auth> =>
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc.nat(7).map((i) => ({ kind: 'usual', worker: new WorkerRef(i) }) as const),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'none' } as const) },
    { weight: 2, arbitrary: fc.constant({ kind: 'operator' } as const) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...AUTH_HEADERS)
        .map((value) => ({ kind: 'header', value }) as const),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('signed' as const),
        claims: claims(tools),
        tamper: fc.oneof(
          { weight: 6, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
      }),
    },
  )

/** The command's input: valid by its schema, then (mostly) mutated. */
const commandInput = (cmd: Command, hints: Hints) =>
  arbitraryOf(inputJsonSchema(cmd.input), hints).chain((v) =>
    fc.oneof({ weight: 1, arbitrary: fc.constant(v) }, { weight: 1, arbitrary: mutate(v) }),
  )

const isObject = isPlain

/** Query parameters for an input object: arrays repeat the key, list's labels are `label=k=v`. */
const queryOf = (cmd: Command, input: Record<string, unknown>): [string, unknown][] =>
  Object.entries(input).flatMap(([k, v]): [string, unknown][] => {
    if (cmd.name === 'list' && k === 'labels' && isObject(v)) {
      return Object.entries(v).map(([lk, lv]) => ['label', `${lk}=${toQueryText(lv)}`])
    }
    if (Array.isArray(v)) return v.map((x) => [k, x])
    return [[k, v]]
  })

const utf8 = (s: string) => new TextEncoder().encode(s)

/** Splits a command's input over path, query and body the way its HTTP binding reads them. */
const requestParts = (cmd: Command, input: unknown) => {
  const rest: Record<string, unknown> = isObject(input) ? { ...input } : {}
  const id = rest.workerId
  delete rest.workerId
  const binding = cmd.http.body
  if (binding === 'json')
    return {
      id,
      query: [],
      body: { kind: 'text', text: toJsonText(isObject(input) ? rest : input) } as Body,
    }
  if (binding === 'config') {
    const config = isObject(input) && 'config' in input ? input.config : input
    return { id, query: [], body: { kind: 'text', text: toJsonText(config) } as Body }
  }
  if (binding === 'raw') {
    const content = rest.content
    delete rest.content
    const body: Body =
      typeof content === 'string'
        ? { kind: 'bytes', bytes: utf8(content) }
        : { kind: 'text', text: toJsonText(content ?? '') }
    return { id, query: queryOf(cmd, rest), body }
  }
  return { id, query: queryOf(cmd, rest), body: { kind: 'none' } as Body }
}

const defaultType = (cmd: Command | undefined) =>
  cmd?.http.body === 'raw'
    ? 'application/octet-stream'
    : cmd?.http.body === 'none'
      ? undefined
      : 'application/json'

/** Requests aimed at one catalog command, with every knob of the request turned now and then. */
const commandCase = (
  cmd: Command,
  hints: Hints,
  tools: string[],
  constrain: Constrain,
): fc.Arbitrary<HttpCase> =>
  fc
    .record({
      app: fc.nat(2),
      input: commandInput(cmd, hints).map((v) => constrain(cmd.name, v)),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(cmd.http.method.toUpperCase()) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      idChoice: fc.oneof(
        { weight: 5, arbitrary: fc.nat(7).map((i) => new WorkerRef(i)) },
        { weight: 2, arbitrary: fc.constant('from-input') },
        { weight: 2, arbitrary: fc.oneof(nastyString, trickyPath).map((s) => ({ text: s })) },
      ),
      extraQuery: fc.oneof(
        { weight: 8, arbitrary: fc.constant([]) },
        {
          weight: 1,
          arbitrary: fc.array(
            fc.tuple(
              fc.constantFrom(
                'path',
                'tail',
                'since',
                'mode',
                'follow',
                'label',
                'encoding',
                '__proto__',
                'x',
              ),
              anyValue,
            ),
            { maxLength: 2 },
          ),
        },
      ),
      rawQuery: fc.oneof(
        { weight: 10, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERIES) },
      ),
      body: fc.oneof(
        { weight: 16, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: brokenJsonText.map((text) => ({ kind: 'text', text }) as Body) },
        { weight: 1, arbitrary: badUtf8.map((bytes) => ({ kind: 'bytes', bytes }) as Body) },
        { weight: 1, arbitrary: fc.constant({ kind: 'none' } as Body) },
      ),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant('default') },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      accept:
        cmd.name === 'send_command'
          ? fc.oneof(
              { weight: 2, arbitrary: fc.constant(undefined) },
              { weight: 1, arbitrary: fc.constant('text/event-stream') },
              { weight: 1, arbitrary: fc.constantFrom(...ACCEPTS) },
            )
          : fc.oneof(
              { weight: 4, arbitrary: fc.constant(undefined) },
              { weight: 1, arbitrary: fc.constantFrom(...ACCEPTS) },
            ),
      follow:
        cmd.name === 'logs'
          ? fc.constantFrom<[string, unknown][]>([], [], [['follow', '1']])
          : fc.constant([]),
      leave: fc.boolean(),
      auth: auth(tools),
      host: fc.oneof(
        { weight: 6, arbitrary: fc.constant('localhost') },
        { weight: 1, arbitrary: fc.constantFrom(...HOSTS) },
      ),
      origin: fc.oneof(
        { weight: 25, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom(...ORIGINS) },
      ),
      site: fc.oneof(
        { weight: 25, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none') },
      ),
    })
    .map((r) => {
      const parts = requestParts(cmd, r.input)
      const id =
        r.idChoice === 'from-input'
          ? parts.id
          : r.idChoice instanceof WorkerRef
            ? r.idChoice
            : (r.idChoice as { text: string }).text
      return {
        app: r.app,
        method: r.method,
        command: cmd.name,
        path: cmd.http.path.replace(':id', '{id}'),
        id,
        query: [...parts.query, ...r.follow, ...r.extraQuery],
        rawQuery: r.rawQuery,
        body: r.body ?? parts.body,
        contentType: r.contentType === 'default' ? defaultType(cmd) : r.contentType,
        accept: r.accept,
        auth: r.auth,
        host: r.host,
        origin: r.origin,
        site: r.site,
        leave: r.leave,
      }
    })

/** Requests to routes outside the catalog, and to paths that only look like routes. */
const otherCase = (tools: string[]): fc.Arbitrary<HttpCase> =>
  fc.record({
    app: fc.nat(2),
    method: fc.constantFrom(...METHODS),
    path: fc.constantFrom(...OTHER_PATHS),
    id: fc.oneof(
      fc.nat(7).map((i) => new WorkerRef(i)),
      nastyString,
    ),
    query: fc.array(fc.tuple(fc.constantFrom('worker', 'type', 'path', 'x'), anyValue), {
      maxLength: 2,
    }),
    rawQuery: fc.constantFrom(...RAW_QUERIES),
    body: fc.oneof(
      fc.constant({ kind: 'none' } as Body),
      brokenJsonText.map((text) => ({ kind: 'text', text }) as Body),
      badUtf8.map((bytes) => ({ kind: 'bytes', bytes }) as Body),
    ),
    contentType: fc.constantFrom(...CONTENT_TYPES),
    accept: fc.constantFrom(...ACCEPTS),
    auth: auth(tools),
    host: fc.constantFrom(...HOSTS),
    origin: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(...ORIGINS) },
    ),
    site: fc.constantFrom(undefined, undefined, undefined, 'cross-site', 'same-origin'),
    leave: fc.boolean(),
  })

/** Every HTTP request the fuzzer sends: mostly aimed at catalog commands, some at the rest. */
export const httpCase = (
  hints: Hints,
  constrain: Constrain = (_, v) => v,
  commands: readonly Command[] = catalog,
): fc.Arbitrary<HttpCase> => {
  const tools = [...new Set(commands.map((c) => c.permission))]
  return fc.oneof(
    // create has the deepest input (a whole WorkerConfig): it gets a larger share.
    {
      weight: 12,
      arbitrary: fc.oneof(
        ...commands.map((cmd) => ({
          weight: cmd.name === 'create' ? 3 : 1,
          arbitrary: commandCase(cmd, hints, tools, constrain),
        })),
      ),
    },
    { weight: 1, arbitrary: otherCase(tools) },
  )
}

export { toJsonText, toQueryText }
