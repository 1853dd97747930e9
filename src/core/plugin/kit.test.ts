import { describe, expect, it } from 'vitest'
import { jsonLines, lastJson, noResult, num, obj, str } from './kit.ts'

describe('jsonLines', () => {
  it('reads every JSON object line, skipping logs, arrays and a line cut off by the output cap', () => {
    const text = [
      'Reading additional input from stdin...',
      '{"type":"a","n":1}',
      '  {"type":"b"}',
      '[1,2]',
      '"just a string"',
      '{"type":"cut", "text":"half',
    ].join('\n')
    expect(jsonLines(text)).toEqual([{ type: 'a', n: 1 }, { type: 'b' }])
    expect(jsonLines('')).toEqual([])
  })
})

describe('lastJson', () => {
  const stream = ['{"type":"init"}', '{"type":"result","n":1}', '{"type":"result","n":2}'].join(
    '\n',
  )

  it('finds the last object a predicate accepts', () => {
    expect(lastJson(stream, (v) => v.type === 'result')).toEqual({ type: 'result', n: 2 })
    expect(lastJson(stream, (v) => v.type === 'init')).toEqual({ type: 'init' })
    expect(lastJson(stream, (v) => v.type === 'none')).toBeUndefined()
  })

  it('skips a last line cut off by the output cap', () => {
    expect(lastJson(`${stream}\n{"type":"result","n":3,"te`)?.n).toBe(2)
  })

  it('reads a pretty-printed object after log lines, and the last of several', () => {
    const pretty = (v: object) => JSON.stringify(v, null, 2)
    const text = [
      'Warning: something',
      pretty({ a: { b: 1 } }),
      'noise',
      pretty({ error: { c: 2 } }),
    ]
    expect(lastJson(text.join('\n'))).toEqual({ error: { c: 2 } })
    expect(lastJson(text.join('\n'), (v) => 'a' in v)).toEqual({ a: { b: 1 } })
    expect(lastJson('{\n  "open": true\n')).toBeUndefined()
  })
})

describe('guards', () => {
  it('num takes finite numbers only, str strings only, obj plain objects only', () => {
    expect([num(3), num('3'), num(NaN), num(Infinity), num(undefined)]).toEqual([3, 0, 0, 0, 0])
    expect([str('a'), str(''), str(1), str(null)]).toEqual(['a', '', undefined, undefined])
    expect([obj({ a: 1 }), obj([1]), obj(null), obj('x')]).toEqual([{ a: 1 }, {}, {}, {}])
  })

  it('noResult carries a detail only when there is one', () => {
    expect(noResult()).toEqual({ noResult: true })
    expect(noResult('')).toEqual({ noResult: true })
    expect(noResult('401')).toEqual({ noResult: true, detail: '401' })
  })
})
