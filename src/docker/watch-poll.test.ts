import { describe, expect, it } from 'vitest'
import { diffSnapshots, parseEntry, pollCommand } from './watch-poll.ts'

const snap = (...records: string[]) => new Map(records.map((r) => parseEntry(r)!))

describe('polled watch snapshots', () => {
  it('reads find records, names with spaces and newlines included', () => {
    expect(parseEntry('f 1733150000.5 12 77 src/a b\nc.ts')).toEqual([
      'src/a b\nc.ts',
      { dir: false, kind: 'f', stamp: '1733150000.5 12 77' },
    ])
    // A directory's times move with its entries: only its inode tells it apart.
    expect(parseEntry('d 1733150000.5 4096 9 src')).toEqual([
      'src',
      { dir: true, kind: 'd', stamp: '9' },
    ])
    expect(parseEntry('OK')).toBeUndefined()
  })

  it('diffs two snapshots into created, changed and deleted, joined to the watched path', () => {
    const before = snap('d 1 4096 2 src', 'f 1 3 3 src/a.ts', 'f 1 3 4 old.txt', 'f 1 3 5 x')
    const after = snap(
      'd 2 4096 2 src',
      'f 2 5 3 src/a.ts',
      'd 2 4096 6 new',
      'f 2 1 7 new/b',
      'd 2 4096 5 x',
    )
    expect(diffSnapshots(before, after, '/workspace')).toEqual([
      { type: 'deleted', path: '/workspace/x', dir: false },
      { type: 'deleted', path: '/workspace/old.txt', dir: false },
      { type: 'created', path: '/workspace/new', dir: true },
      { type: 'created', path: '/workspace/new/b', dir: false },
      { type: 'created', path: '/workspace/x', dir: true },
      { type: 'changed', path: '/workspace/src/a.ts', dir: false },
    ])
    expect(diffSnapshots(after, after, '/workspace')).toEqual([])
  })

  it('walks one level unless recursive, and passes the roots after its own arguments', () => {
    const argv = pollCommand('/workspace', false, ['/workspace', '/tmp'])
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c'])
    expect(argv.slice(3)).toEqual([
      'ws-watch',
      '/workspace',
      '1',
      '10000',
      '1',
      '/workspace',
      '/tmp',
    ])
    expect(pollCommand('/w', true, ['/w'])[5]).toBe('128')
  })
})
