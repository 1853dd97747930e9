import { describe, expect, it } from 'vitest'
import { JsonScan } from './json-scan.ts'

type Found = { path: string; value: unknown }[]

/** Scans `pieces` for `paths`; each record's values, in order. */
const scan = (paths: string[], pieces: string[]): Found[] => {
  const records: Found[] = []
  let current: Found = []
  const s = new JsonScan(paths, {
    value: (path, raw) => current.push({ path, value: JSON.parse(raw) }),
    recordEnd: () => {
      records.push(current)
      current = []
    },
  })
  for (const p of pieces) s.push(p)
  return records
}

/** `text` cut at every boundary into two pieces, and into single characters. */
const splits = (text: string): string[][] => [
  ...Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]),
  [...text],
]

describe('JsonScan', () => {
  it('finds wanted objects and strings at their paths, and nothing at others', () => {
    const text = JSON.stringify({
      type: 'response.completed',
      response: {
        id: 'r',
        tools: [{ usage: { input_tokens: 1 } }],
        output: [{ content: 'say "usage": {"input_tokens": 9}' }],
        usage: { input_tokens: 3, details: { cached: 1 } },
        model: 'gpt-5',
        metadata: { usage: 'no' },
      },
      usage: 7,
    })
    for (const pieces of splits(text)) {
      expect(scan(['type', 'usage', 'response.usage', 'response.model'], pieces)).toEqual([
        [
          { path: 'type', value: 'response.completed' },
          { path: 'response.usage', value: { input_tokens: 3, details: { cached: 1 } } },
          { path: 'response.model', value: 'gpt-5' },
        ],
      ])
    }
  })

  it('reads escapes in keys and values split anywhere', () => {
    const text = '{"a\\"b":{"model":"x"},"model":"m\\\\\\"\\u00e9","usage":{"k":"}\\\\"}}'
    for (const pieces of splits(text)) {
      expect(scan(['model', 'usage'], pieces)).toEqual([
        [
          { path: 'model', value: 'm\\"é' },
          { path: 'usage', value: { k: '}\\' } },
        ],
      ])
    }
  })

  it('takes each object of a root array, or each of several roots, as a record', () => {
    const elements = [{ usageMetadata: { n: 1 } }, { other: true }, { usageMetadata: { n: 2 } }]
    const expected = [
      [{ path: 'usageMetadata', value: { n: 1 } }],
      [],
      [{ path: 'usageMetadata', value: { n: 2 } }],
    ]
    expect(scan(['usageMetadata'], [JSON.stringify(elements)])).toEqual(expected)
    expect(scan(['usageMetadata'], [elements.map((e) => JSON.stringify(e)).join('\n')])).toEqual(
      expected,
    )
  })

  it('follows depth below the levels it tracks', () => {
    const deep = '['.repeat(50) + '{"usage":{}}' + ']'.repeat(50)
    const text = `{"x":${deep},"usage":{"ok":1}}`
    expect(scan(['usage'], [text])).toEqual([[{ path: 'usage', value: { ok: 1 } }]])
  })

  it('drops a wanted value too big to be what it should, and stays on track', () => {
    const big = 'x'.repeat(100_000)
    const text = JSON.stringify({ model: big, usage: { big }, type: 'ok' })
    for (const pieces of [[text], text.match(/[^]{1,1000}/g)!]) {
      expect(scan(['model', 'usage', 'type'], pieces)).toEqual([[{ path: 'type', value: 'ok' }]])
    }
  })

  it('never throws on garbage', () => {
    let seed = 7
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const alphabet = '{}[]":,\\ ab\n'
    for (let n = 0; n < 200; n++) {
      const text = Array.from({ length: 200 }, () => alphabet[Math.floor(rand() * 12)]).join('')
      const s = new JsonScan(['a', 'a.b'], { value: () => {}, recordEnd: () => {} })
      expect(() => s.push(text)).not.toThrow()
    }
  })

  it('agrees with JSON.parse on generated documents split at random', () => {
    let seed = 42
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const keys = ['usage', 'model', 'response', 'message', 'x', 'u"s', 'é']
    const value = (depth: number): unknown => {
      const r = rand()
      if (depth > 3 || r < 0.3) return r < 0.1 ? 'str"\\\n' : r < 0.2 ? 12.5e3 : null
      if (r < 0.45) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1))
      const o: Record<string, unknown> = {}
      for (let k = Math.floor(rand() * 4); k > 0; k--) {
        o[keys[Math.floor(rand() * keys.length)]!] = value(depth + 1)
      }
      return o
    }
    const paths = ['usage', 'model', 'response.usage', 'message.model']
    let seen = 0
    for (let n = 0; n < 300; n++) {
      const doc = { ...(value(0) as object), usage: value(1), response: value(1) }
      const text = JSON.stringify(doc, null, n % 2 ? 1 : undefined)
      const cut = Math.floor(rand() * text.length)
      const expected = paths.flatMap((path) => {
        const v = path
          .split('.')
          .reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], doc)
        const wanted = typeof v === 'string' || (typeof v === 'object' && v && !Array.isArray(v))
        return wanted ? [{ path, value: v }] : []
      })
      seen += expected.length
      const found = scan(paths, [text.slice(0, cut), text.slice(cut)])
      expect(found).toHaveLength(1)
      expect([...found[0]!].sort((a, b) => a.path.localeCompare(b.path))).toEqual(
        expected.sort((a, b) => a.path.localeCompare(b.path)),
      )
    }
    expect(seen).toBeGreaterThan(200)
  })
})
