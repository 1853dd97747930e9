import { describe, expect, it } from 'vitest'
import { permissionOutcome } from './permission.ts'

const options = [
  { optionId: 'a1', name: 'Allow', kind: 'allow_once' },
  { optionId: 'aa', name: 'Always', kind: 'allow_always' },
  { optionId: 'r1', name: 'Reject', kind: 'reject_once' },
]

describe('permissionOutcome', () => {
  it("picks the agent's own option of the decision's kind, once before always", () => {
    expect(permissionOutcome('deny', { options })).toEqual({
      outcome: { outcome: 'selected', optionId: 'r1' },
    })
    expect(permissionOutcome('allow', { options })).toEqual({
      outcome: { outcome: 'selected', optionId: 'a1' },
    })
    expect(permissionOutcome('allow', { options: options.slice(1) })).toEqual({
      outcome: { outcome: 'selected', optionId: 'aa' },
    })
  })

  it('cancels when there is no such option or the options are not a list', () => {
    expect(permissionOutcome('deny', { options: options.slice(0, 2) })).toEqual({
      outcome: { outcome: 'cancelled' },
    })
    expect(permissionOutcome('deny', { options: 'reject' })).toEqual({
      outcome: { outcome: 'cancelled' },
    })
  })
})
