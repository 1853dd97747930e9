import { describe, expect, it } from 'vitest'
import { StartFailureGate, startFailure } from './exec-start-failure.ts'

const notFound =
  'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": ' +
  'executable file not found in $PATH: unknown\r\n'
const denied =
  'OCI runtime exec failed: exec failed: unable to start container process: exec: "/etc": ' +
  'permission denied: unknown\r\n'

describe('startFailure', () => {
  it('reads the Engine error as a shell would report it', () => {
    expect(startFailure(126, notFound, '')).toEqual({
      exitCode: 127,
      message: notFound.replace('\r\n', '\n'),
    })
    expect(startFailure(126, denied, '')?.exitCode).toBe(126)
  })

  it('leaves a command that ran alone', () => {
    expect(startFailure(0, notFound, '')).toBeUndefined()
    expect(startFailure(126, notFound, 'sh: denied\n')).toBeUndefined()
    expect(startFailure(126, `${notFound}more\n`, '')).toBeUndefined()
    expect(startFailure(126, 'hello\n', '')).toBeUndefined()
  })
})

describe('StartFailureGate', () => {
  it('turns a held start error into stderr', () => {
    const seen: string[] = []
    const gate = new StartFailureGate((stream, chunk) => seen.push(`${stream}:${chunk}`))
    gate.onOutput('stdout', notFound)
    expect(seen).toEqual([])
    gate.settle(startFailure(126, notFound, ''))
    expect(seen).toEqual([`stderr:${notFound.replace('\r\n', '\n')}`])
  })

  it('releases a look-alike in order when more output follows or the exec ran', () => {
    const seen: string[] = []
    const gate = new StartFailureGate((stream, chunk) => seen.push(`${stream}:${chunk}`))
    gate.onOutput('stdout', 'OCI runtime exec failed: quoted\n')
    gate.onOutput('stderr', 'next\n')
    gate.settle(undefined)
    expect(seen).toEqual(['stdout:OCI runtime exec failed: quoted\n', 'stderr:next\n'])

    const late: string[] = []
    const other = new StartFailureGate((stream, chunk) => late.push(`${stream}:${chunk}`))
    other.onOutput('stdout', 'OCI runtime exec failed: x\r\n')
    other.settle(undefined)
    expect(late).toEqual(['stdout:OCI runtime exec failed: x\r\n'])
  })

  it('holds back only the first chunk', () => {
    const seen: string[] = []
    const gate = new StartFailureGate((stream, chunk) => seen.push(`${stream}:${chunk}`))
    gate.onOutput('stdout', 'a\n')
    gate.onOutput('stdout', notFound)
    expect(seen).toEqual(['stdout:a\n', `stdout:${notFound}`])
  })
})
