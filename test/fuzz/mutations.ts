import fc from 'fast-check'

/**
 * A JSON token written as is: numbers JSON.stringify cannot produce (`1e309`, `-0`, `1e-400`,
 * 2^64), or text that is not JSON at all inside an otherwise valid document.
 */
export class Raw {
  constructor(readonly text: string) {}
}

/** JSON text of `value`, with every `Raw` written as its text. */
export const toJsonText = (value: unknown): string => {
  if (value instanceof Raw) return value.text
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** The text a query parameter carries for `value`. */
export const toQueryText = (value: unknown): string =>
  value instanceof Raw ? value.text : typeof value === 'string' ? value : toJsonText(value)

const MiB = 1024 * 1024

/** Strings that break naive parsers: big, NUL, lone surrogates, RTL marks, escapes. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\0',
      'a\0b',
      '\ud800',
      '\udfff',
      'x\udc00y',
      '\u202e\u0000',
      '\ufeff',
      '💥'.repeat(3),
      '%00',
      '%ff%fe',
      '%',
      '%%%',
      '\\',
      '"',
      '\r\n',
      'null',
      'undefined',
      '__proto__',
      'constructor',
      '{"a":1}',
      '[]',
      '<script>',
      '${HOME}',
      '$(id)',
      '`id`',
      '0x10',
      '-0',
      'NaN',
      'Infinity',
      '1e309',
      '  7  ',
      'w-0123456789ABCDEF',
      'w-0123456789abcdef\n',
    ),
  },
  { weight: 3, arbitrary: fc.constantFrom(16 * 1024, 256 * 1024).map((n) => 'y'.repeat(n)) },
  // Megabytes: past every body and payload cap the fuzz apps set.
  { weight: 1, arbitrary: fc.constantFrom(MiB + 1, 3 * MiB).map((n) => 'z'.repeat(n)) },
)

/** Container paths aimed at escaping the allowed roots, and odd ones that are merely strange. */
export const trickyPath: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      '/workspace/a.txt',
      '/workspace/dir/b.bin',
      '/tmp/x',
      '/home/worker/.bashrc',
      'relative.txt',
      '.',
      '..',
      '/',
      '//',
      '/workspace/',
      '/workspace//a',
      '/workspace/./a',
      '/workspace/../etc/passwd',
      '/workspace/../../../../etc/shadow',
      '/workspace/%2e%2e/etc/passwd',
      '/workspace/%2e%2e%2fetc%2fpasswd',
      '/workspace/..%2f..%2fetc',
      '/workspace/a\0b',
      '/workspace/a%00b',
      '/workspace\\..\\etc',
      '/tmp/../proc/self/environ',
      '/proc/1/root/etc/passwd',
      '/var/run/docker.sock',
      '/workspace/\u202eevil',
      '/workspace/\ud800',
      '/workspace/😀/x',
      '~/x',
      '/home/worker/../../root/.ssh/id_rsa',
    ),
  },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom('..', '.', '', 'a', '%2e%2e', '\0', 'workspace', 'tmp', '…', '\\'), {
        maxLength: 8,
      })
      .map((parts) => '/' + parts.join('/')),
  },
  { weight: 1, arbitrary: fc.constantFrom(4097, 70_000).map((n) => '/workspace/' + 'p'.repeat(n)) },
)

/** Numbers and number look-alikes that JSON and `z.coerce` treat in surprising ways. */
export const oddNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    new Raw('1e309'),
    new Raw('-1e309'),
    new Raw('-0'),
    new Raw('1e-400'),
    new Raw('18446744073709551616'),
    new Raw('9007199254740993'),
    new Raw('0.1e1'),
    new Raw('1E2'),
    -1,
    0,
    0.5,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    'NaN',
    'Infinity',
    '1e3',
    ' 1 ',
    '0x1f',
    '0b11',
    '1_000',
    '',
    '0644',
    '0o644',
    '07777',
    '99999999999999999999',
  ),
  fc.double(),
  fc.integer(),
)

/** Any JSON value at all, a few levels deep: the "wrong type" a field gets. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, '', [], {}),
  fc.jsonValue({ maxDepth: 3 }),
  oddNumber,
  nastyString,
)

/** Keys a sloppy merge or a prototype lookup trips over. */
const odd = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  ' ',
  'workerId',
  'a.b',
  '0',
)

/**
 * Mutates `value` a little: one change at a random depth (a value of the wrong type, a dropped
 * or added key, a nasty string, an odd number), or none.
 */
export const mutate = (value: unknown, depth = 0): fc.Arbitrary<unknown> => {
  const keep = fc.constant(value)
  const deeper = depth < 4
  if (Array.isArray(value)) {
    const options: fc.Arbitrary<unknown>[] = [anyValue, fc.constant([...value, ...value])]
    if (value.length && deeper) {
      options.push(
        fc
          .nat(value.length - 1)
          .chain((i) =>
            mutate(value[i], depth + 1).map((v) => value.map((x, j) => (j === i ? v : x))),
          ),
      )
    }
    options.push(anyValue.map((v) => [...value, v]))
    return fc.oneof(keep, ...options)
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value))
  ) {
    const entries = Object.entries(value)
    const options: fc.WeightedArbitrary<unknown>[] = [
      { weight: 1, arbitrary: anyValue },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.oneof(odd, fc.string()), anyValue)
          .map(([k, v]) => addKey(value, k, v)),
      },
    ]
    if (entries.length) {
      options.push({
        weight: 1,
        arbitrary: fc
          .nat(entries.length - 1)
          .map((i) => Object.fromEntries(entries.filter((_, j) => j !== i))),
      })
      if (deeper) {
        // Mostly deeper: a whole config replaced by `5` says less than one bad field inside it.
        options.push({
          weight: 5,
          arbitrary: fc
            .nat(entries.length - 1)
            .chain((i) =>
              mutate(entries[i]![1], depth + 1).map((v) => addKey(value, entries[i]![0], v)),
            ),
        })
      }
    }
    return fc.oneof(...options)
  }
  if (typeof value === 'string') return fc.oneof(keep, nastyString, trickyPath, oddNumber, anyValue)
  if (typeof value === 'number') return fc.oneof(keep, oddNumber, anyValue)
  return fc.oneof(keep, anyValue)
}

/** `value` with `key` set as an own property, even `__proto__`. */
const addKey = (value: object, key: string, v: unknown) => {
  const out: Record<string, unknown> = { ...value }
  Object.defineProperty(out, key, {
    value: v,
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return out
}

/** JSON text that is wrong as a whole: truncated, deeply nested, not an object, not JSON. */
export const brokenJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '{"a":',
    '}',
    'null',
    'true',
    '0',
    '"x"',
    '[]',
    '[{}]',
    '{"a":1,}',
    "{'a':1}",
    '{"a":1}{"b":2}',
    '{"a":1} trailing',
    '\ufeff{}',
    '{"\\ud800":1}',
    '{"a":"\\u0000"}',
    '{"a":"\\ud800"}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":1e309}',
    '{"__proto__":{"shell":"id"}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
  fc.constantFrom(10, 10_000, 200_000).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.constantFrom(10, 10_000, 100_000).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.constantFrom(100_000).map((n) => '['.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 50 }),
)

/** Bytes that are not UTF-8 at all, or valid JSON with invalid UTF-8 spliced into a string. */
export const badUtf8: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constantFrom(
    Uint8Array.from([0xff, 0xfe, 0xfd]),
    Uint8Array.from([0xc0, 0xaf]),
    Uint8Array.from([0xed, 0xa0, 0x80]),
    Uint8Array.from([0xf4, 0x90, 0x80, 0x80]),
  ),
  fc
    .tuple(fc.jsonValue({ maxDepth: 1 }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
    .map(([v, junk]) => {
      const text = new TextEncoder().encode(
        JSON.stringify({ shell: 'x', agent: 'shell', text: 'x', v }),
      )
      const at = text.indexOf(0x78) // inside the first "x"
      return Uint8Array.from([...text.slice(0, at), ...junk, ...text.slice(at + 1)])
    }),
)
