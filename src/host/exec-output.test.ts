import { describe, expect, it } from 'vitest'
import { ExecOutput } from './exec-output.ts'

describe('ExecOutput', () => {
  it('joins multibyte characters split across chunks, per stream', () => {
    const seen: [string, string][] = []
    const out = new ExecOutput((stream, chunk) => seen.push([stream, chunk]))
    const euro = Buffer.from('€', 'utf8') // 3 bytes
    const smile = Buffer.from('😀', 'utf8') // 4 bytes
    out.push('stdout', euro.subarray(0, 1))
    out.push('stderr', smile.subarray(0, 2))
    out.push('stdout', Buffer.concat([euro.subarray(1), Buffer.from('a')]))
    out.push('stderr', smile.subarray(2))
    out.finish()
    expect(out.stdout).toBe('€a')
    expect(out.stderr).toBe('😀')
    expect(seen).toEqual([
      ['stdout', '€a'],
      ['stderr', '😀'],
    ])
  })

  it('keeps arrival order through the demux sinks', () => {
    const seen: string[] = []
    const out = new ExecOutput((stream, chunk) => seen.push(`${stream}:${chunk}`))
    const stdout = out.sink('stdout')
    const stderr = out.sink('stderr')
    stdout.write(Buffer.from('1'))
    stderr.write(Buffer.from('2'))
    stdout.write(Buffer.from('3'))
    expect(seen).toEqual(['stdout:1', 'stderr:2', 'stdout:3'])
  })

  it('flushes a truncated character as U+FFFD and survives a throwing callback', () => {
    const out = new ExecOutput(() => {
      throw new Error('boom')
    })
    out.push('stdout', Buffer.from([0x61, 0xe2, 0x82]))
    out.finish()
    expect(out.stdout).toBe('a\uFFFD')
    expect(out.callbackError).toBeInstanceOf(Error)
  })
})
