import { describe, expect, it } from 'vitest'
import type { LogLine } from '../core/runtime.ts'
import { LogLineParser } from './log-lines.ts'

const T1 = '2025-01-02T03:04:05.000000001Z'
const T2 = '2025-01-02T03:04:06.000000002Z'
const frame = (at: string, text: string | Buffer) =>
  Buffer.concat([Buffer.from(`${at} `), Buffer.isBuffer(text) ? text : Buffer.from(text)])

const parse = (frames: [LogLine['stream'], Buffer][], maxLineLength?: number) => {
  const lines: LogLine[] = []
  const parser = new LogLineParser((line) => lines.push(line), maxLineLength)
  for (const [stream, payload] of frames) parser.frame(stream, payload)
  parser.end()
  return lines
}

describe('LogLineParser', () => {
  it('gives one line per message with its stream and timestamp', () => {
    expect(
      parse([
        ['stdout', frame(T1, 'hello\n')],
        ['stderr', frame(T2, 'oops\n')],
      ]),
    ).toEqual([
      { stream: 'stdout', at: T1, text: 'hello' },
      { stream: 'stderr', at: T2, text: 'oops' },
    ])
  })

  it('joins a message the engine split, and a character split with it', () => {
    const euro = Buffer.from('€')
    const lines = parse([
      ['stdout', frame(T1, Buffer.concat([Buffer.from('long '), euro.subarray(0, 2)]))],
      ['stdout', frame(T2, Buffer.concat([euro.subarray(2), Buffer.from(' end\nnext')]))],
    ])
    expect(lines).toEqual([
      { stream: 'stdout', at: T1, text: 'long € end' },
      { stream: 'stdout', at: T2, text: 'next' },
    ])
  })

  it('keeps empty lines and strips a carriage return', () => {
    expect(
      parse([
        ['stdout', frame(T1, '\n')],
        ['stdout', frame(T2, 'dos\r\n')],
      ]),
    ).toEqual([
      { stream: 'stdout', at: T1, text: '' },
      { stream: 'stdout', at: T2, text: 'dos' },
    ])
  })

  it('passes on a line without a newline in pieces once it outgrows the limit', () => {
    const lines = parse(
      [
        ['stdout', frame(T1, 'abcdef')],
        ['stdout', frame(T1, 'ghijkl')],
        ['stdout', frame(T2, 'mn\nop\n')],
      ],
      8,
    )
    expect(lines.map((l) => l.text)).toEqual(['abcdefghijkl', 'mn', 'op'])
  })
})
