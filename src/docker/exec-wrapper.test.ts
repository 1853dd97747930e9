import { describe, expect, it } from 'vitest'
import { EXEC_ENV, execCommand, killCommand, newExecKey, stdinPath } from './exec-wrapper.ts'

describe('execCommand', () => {
  it('runs argv as it is when there is no stdin', () => {
    const argv = ['printf', '%s', 'a b']
    expect(execCommand(newExecKey(), argv, false)).toEqual(argv)
  })

  it('reads stdin from the exec file, then runs argv unchanged', () => {
    const key = newExecKey()
    const [sh, flag, script, name, ...rest] = execCommand(key, ['cat', '-n'], true)
    expect([sh, flag, name]).toEqual(['/bin/sh', '-c', 'ws-exec'])
    expect(script).toContain(stdinPath(key))
    expect(rest).toEqual(['cat', '-n'])
  })
})

describe('killCommand', () => {
  it('looks for the exact tag of its exec', () => {
    const key = newExecKey()
    expect(key).toMatch(/^[0-9a-f]{16}$/)
    expect(killCommand(key)[2]).toContain(`-lsxzF ${EXEC_ENV}=${key} /proc/[0-9]*/environ`)
  })
})
