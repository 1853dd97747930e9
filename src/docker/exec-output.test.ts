import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_OUTPUT_BYTES, ExecOutput, truncationNotice } from './exec-output.ts'

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

  it('keeps at most maxBytes per stream, in the result and in the callback, and says so once', () => {
    const seen: string[] = []
    const out = new ExecOutput((stream, chunk) => seen.push(`${stream}:${chunk}`), 4)
    out.push('stdout', Buffer.from('abc'))
    out.push('stdout', Buffer.from('def'))
    out.push('stdout', Buffer.from('g'))
    out.push('stderr', Buffer.from('1234'))
    out.finish()
    expect(out.stdout).toBe('abcd')
    expect(out.stderr).toBe('1234')
    expect(out.truncated).toBe(true)
    expect(seen).toEqual([
      'stdout:abc',
      'stdout:d',
      `stderr:${truncationNotice('stdout', 4)}`,
      'stderr:1234',
    ])
  })

  it('calls back with no more than maxBytes per stream however much arrives', () => {
    let delivered = 0
    const out = new ExecOutput((_stream, chunk) => (delivered += Buffer.byteLength(chunk)), 1024)
    const chunk = Buffer.alloc(64 * 1024, 'x')
    for (let i = 0; i < 256; i++) out.push(i % 2 ? 'stderr' : 'stdout', chunk)
    out.finish()
    const notices = ['stdout', 'stderr'] as const
    const noticeBytes = notices.reduce(
      (n, s) => n + Buffer.byteLength(truncationNotice(s, 1024)),
      0,
    )
    // The stderr notice follows stderr's unfinished line, so it starts with a newline.
    expect(delivered).toBe(2 * 1024 + noticeBytes + 1)
    expect(out.truncated).toBe(true)
  })

  it('starts the notice on a line of its own', () => {
    const seen: string[] = []
    const out = new ExecOutput((stream, chunk) => seen.push(`${stream}:${chunk}`), 4)
    out.push('stderr', Buffer.from('ab'))
    out.push('stderr', Buffer.from('cdef'))
    expect(seen).toEqual(['stderr:ab', 'stderr:cd', `stderr:\n${truncationNotice('stderr', 4)}`])
  })

  it('is not truncated at exactly maxBytes', () => {
    const out = new ExecOutput(undefined, 3)
    out.push('stdout', Buffer.from('abc'))
    out.finish()
    expect(out).toMatchObject({ stdout: 'abc', truncated: false })
  })

  it('drops a character cut by the limit whole, without U+FFFD', () => {
    const seen: string[] = []
    const out = new ExecOutput((_stream, chunk) => seen.push(chunk), 4)
    out.push('stdout', Buffer.from('ab€c')) // the euro sign is bytes 3 to 5 of 6
    out.push('stdout', Buffer.from('😀'))
    out.finish()
    expect(out.stdout).toBe('ab')
    expect(out.truncated).toBe(true)
    expect(seen).toEqual(['ab', truncationNotice('stdout', 4)])

    const quiet = new ExecOutput(undefined, 4)
    quiet.push('stderr', Buffer.from('abc€'))
    quiet.push('stderr', Buffer.from('more'))
    quiet.finish()
    expect(quiet.stderr).toBe('abc')
  })

  it('keeps 16 MiB by default', () => {
    const out = new ExecOutput()
    out.push('stdout', new Uint8Array(DEFAULT_MAX_OUTPUT_BYTES))
    expect(out.truncated).toBe(false)
    out.push('stdout', Buffer.from('x'))
    out.finish()
    expect(out.stdout.length).toBe(DEFAULT_MAX_OUTPUT_BYTES)
    expect(out.truncated).toBe(true)
  })
})
